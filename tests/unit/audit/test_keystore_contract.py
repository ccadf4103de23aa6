"""The CustomerKeyStore contract: SQLite, DynamoDB (moto's server) and PostgreSQL behave
alike."""

import secrets
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from audit.keystore import CustomerKey, SQLiteCustomerKeyStore


@pytest.fixture(params=["sqlite", "dynamodb", "postgres"])
def keys(request, tmp_path):
    if request.param == "sqlite":
        store = SQLiteCustomerKeyStore(tmp_path / "keys.db")
    elif request.param == "postgres":
        from audit.postgres import PostgresAuditConfig
        from audit.postgres_keystore import PostgresCustomerKeyStore

        store = PostgresCustomerKeyStore(PostgresAuditConfig(
            url=request.getfixturevalue("postgres_db").url))
    else:
        from audit.dynamodb import DynamoDBCustomerKeyStore

        store = DynamoDBCustomerKeyStore(f"k{secrets.token_hex(4)}",
                                         endpoint=request.getfixturevalue("dynamodb_endpoint"))
    yield store
    store.close()


def key(ref: str, wrapped: bytes = b"w") -> CustomerKey:
    return CustomerKey(ref, wrapped)


def test_first_key_stays(keys):
    """A customer's first key is kept; a later create returns it; its ref names it."""
    assert keys.get("c1") is None and keys.wrapped("k1") is None
    assert keys.create("c1", key("k1", b"first")).key_ref == "k1"
    assert keys.create("c1", key("k2", b"second")) == CustomerKey("k1", b"first")
    assert keys.get("c1") == CustomerKey("k1", b"first")
    assert keys.wrapped("k1") == b"first" and keys.wrapped("k2") is None
    assert keys.key_refs() == ["k1"]


def test_concurrent_first_decisions_agree_on_one_key(keys):
    """Of concurrent first decisions for one customer, exactly one key survives."""
    with ThreadPoolExecutor(8) as pool:
        got = set(pool.map(lambda i: keys.create("c1", key(f"k{i}", f"w{i}".encode())),
                           range(16)))
    assert len(got) == 1 and keys.get("c1") in got and len(keys.key_refs()) == 1


def test_national_refs_are_remembered_once(keys):
    """Pseudonyms seen with a customer accumulate, without duplicates, also concurrently."""
    keys.create("c1", CustomerKey("k1", b"w", ("n0",)))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: keys.note_national_ref("c1", f"n{i % 4}"), range(16)))
    assert sorted(keys.get("c1").national_refs) == ["n0", "n1", "n2", "n3"]
    keys.note_national_ref("unknown", "n9")  # no entry: nothing happens
    assert keys.get("unknown") is None


def test_erase_destroys_the_key_and_the_link(keys):
    """Erasure removes the customer's entry and key; the key ref stays known as erased."""
    keys.create("c1", CustomerKey("k1", b"w1", ("n1",)))
    keys.create("c2", key("k2", b"w2"))
    erased = keys.erase("c1")
    assert erased.key_ref == "k1" and erased.national_refs == ["n1"]
    assert keys.get("c1") is None and keys.wrapped("k1") is None
    assert keys.is_erased("k1") and not keys.is_erased("k2") and not keys.is_erased("zz")
    assert keys.key_refs() == ["k2"]
    assert keys.erase("c1") is None and keys.erase("never") is None
    # A later decision for the customer gets a new key under a new ref; the old stays erased.
    assert keys.create("c1", key("k3", b"w3")).key_ref == "k3" and keys.is_erased("k1")


def test_scheduled_erasures_come_due(keys):
    """A scheduled erasure is listed once its due time has passed, not before."""
    keys.create("c1", key("k1"))
    keys.create("c2", key("k2"))
    assert keys.schedule_erasure("c1", "2030-01-01T00:00:00.000000Z")
    assert not keys.schedule_erasure("nobody", "2030-01-01T00:00:00.000000Z")
    assert keys.due_erasures("2029-12-31T23:59:59.000000Z") == []
    assert keys.due_erasures("2030-01-01T00:00:00.000000Z") == ["c1"]
    keys.erase("c1")
    assert keys.due_erasures("2031-01-01T00:00:00.000000Z") == []


def test_rewrap_swaps_the_key_but_never_revives(keys):
    """Rotation re-wraps a live key (seen by ref and by customer); an erased one stays gone."""
    keys.create("c1", key("k1", b"old"))
    keys.rewrap("k1", b"rewrapped")
    assert keys.wrapped("k1") == b"rewrapped" and keys.get("c1").wrapped == b"rewrapped"
    keys.erase("c1")
    keys.rewrap("k1", b"again")
    assert keys.wrapped("k1") is None and keys.is_erased("k1")


def test_concurrent_erasures_report_the_key_once(keys):
    keys.create("c1", key("k1"))
    with ThreadPoolExecutor(8) as pool:
        reported = list(pool.map(lambda _: keys.erase("c1"), range(8)))
    assert sum(r is not None for r in reported) == 1 and keys.get("c1") is None


def test_sqlite_store_of_the_previous_layout_is_migrated(tmp_path):
    """A key store written before random key refs: each customer's ref is its key ref."""
    path = tmp_path / "keys.db"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE customer_keys (customer_ref TEXT PRIMARY KEY, wrapped BLOB);"
                     "CREATE TABLE erased (customer_ref TEXT PRIMARY KEY, erased_at TEXT);"
                     "INSERT INTO customer_keys VALUES ('cust-a', x'01');"
                     "INSERT INTO erased VALUES ('cust-b', '2026-01-01');")
    db.commit()
    db.close()
    keys = SQLiteCustomerKeyStore(path)
    assert keys.get("cust-a") == CustomerKey("cust-a", b"\x01")
    assert keys.wrapped("cust-a") == b"\x01" and keys.is_erased("cust-b")
    keys.close()
