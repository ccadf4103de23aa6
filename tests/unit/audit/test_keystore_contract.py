"""The CustomerKeyStore contract: SQLite, DynamoDB (moto's server) and PostgreSQL behave
alike."""

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from audit.keystore import SQLiteCustomerKeyStore


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


def test_first_key_stays(keys):
    assert keys.get("c1") is None and not keys.is_erased("c1")
    assert keys.put_if_absent("c1", b"first") == b"first"
    assert keys.put_if_absent("c1", b"second") == b"first"
    assert keys.get("c1") == b"first" and keys.all_refs() == ["c1"]


def test_concurrent_first_decisions_agree_on_one_key(keys):
    with ThreadPoolExecutor(8) as pool:
        got = set(pool.map(lambda i: keys.put_if_absent("c1", f"key{i}".encode()), range(16)))
    assert len(got) == 1 and keys.get("c1") in got


def test_erase_destroys_the_key_and_is_remembered(keys):
    keys.put_if_absent("c1", b"k1")
    keys.put_if_absent("c2", b"k2")
    assert keys.erase("c1") is True
    assert keys.get("c1") is None and keys.is_erased("c1") and not keys.is_erased("c2")
    assert keys.all_refs() == ["c2"]
    assert keys.erase("c1") is False and keys.erase("never") is False
    assert keys.is_erased("never")
    # A later decision for the customer starts a new key; the erasure stays on record.
    assert keys.put_if_absent("c1", b"new") == b"new" and keys.is_erased("c1")


def test_replace_rewraps_but_never_revives(keys):
    keys.put_if_absent("c1", b"old")
    keys.replace("c1", b"rewrapped")
    assert keys.get("c1") == b"rewrapped"
    keys.erase("c1")
    keys.replace("c1", b"again")
    assert keys.get("c1") is None


def test_concurrent_erasures_report_the_key_once(keys):
    keys.put_if_absent("c1", b"k1")
    with ThreadPoolExecutor(8) as pool:
        reported = list(pool.map(lambda _: keys.erase("c1"), range(8)))
    assert reported.count(True) == 1 and keys.get("c1") is None
