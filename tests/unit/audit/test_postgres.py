"""What only the PostgreSQL backend promises (the shared behaviour is in
test_store_contract.py, test_tamper.py and test_keystore_contract.py, run on every backend):
the database itself keeps the log append-only, instances never deadlock on each other's
batches, a writer recovers from a commit it did not see, and it refuses a schema it does
not know."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from audit.digest import Digest
from audit.postgres import PostgresAuditConfig, PostgresAuditStore, PostgresDigestStore
from audit.store import AuditUnavailable, DuplicateApplication
from audit.verify import verify_entries
from core.schema import SchemaMismatch


@pytest.fixture
def config(postgres_db):
    return PostgresAuditConfig(url=postgres_db.url, min_size=0, max_size=4)


@pytest.fixture
def stores(config):
    opened = []

    def open_(chain_id=None, **settings):
        opened.append(PostgresAuditStore(config.model_copy(update=settings), chain_id))
        return opened[-1]

    yield open_
    for s in opened:
        s.close()


@pytest.mark.parametrize("table", ["audit_entries", "audit_digests"])
def test_the_database_keeps_the_log_append_only(postgres_db, config, stores, table):
    """The service's role has no UPDATE, DELETE or TRUNCATE grant; the owner, who has, is
    refused by the triggers."""
    stores().append({"n": 1}, application_id="A1", decision_id="D1")
    digests = PostgresDigestStore(config)
    digests.put(Digest("2026-01-01T00:00:00.000000Z", (), "k"))
    digests.close()
    for url, says in ((postgres_db.url, "permission denied"), (postgres_db.admin_url, "append-only")):
        with psycopg.connect(url, autocommit=True) as conn:
            column = "doc" if table == "audit_digests" else "body"
            for sql in (f"UPDATE {table} SET {column} = 'x'", f"DELETE FROM {table}",
                        f"TRUNCATE {table}"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match=says):
                    conn.execute(sql)


def test_overlapping_batches_of_two_instances_do_not_deadlock(stores):
    """Two writers insert batches of the same application ids in opposite orders at once:
    each application is written once, and no batch fails (rows are locked in one order)."""
    # A generous statement timeout: one batch waits for the other's commit, which on a
    # loaded machine can take longer than the 1 s default; a deadlock would still fail,
    # detected by the server after its deadlock_timeout (1 s).
    a, b = stores(statement_timeout_s=10.0), stores(statement_timeout_s=10.0)
    start = threading.Barrier(2)

    def batch(store, ids):
        start.wait()
        return store.append_many([({"id": i}, i, None) for i in ids])

    for round_ in range(5):
        ids = [f"R{round_}-{k:03d}" for k in range(300)]
        with ThreadPoolExecutor(2) as pool:
            got = list(pool.map(batch, (a, b), (ids, ids[::-1])))
        written = [r for results in got for r in results if not isinstance(r, Exception)]
        assert len(written) == len(ids)
        assert all(isinstance(r, DuplicateApplication)
                   for results in got for r in results if isinstance(r, Exception))
    assert verify_entries(a.entries()).ok


def test_a_duplicate_inside_one_batch_fails_only_itself(stores):
    store = stores()
    results = store.append_many([({"a": 1}, "X", "D1"), ({"a": 2}, "X", "D2"),
                                 ({"a": 3}, "Y", "D3")])
    assert isinstance(results[1], DuplicateApplication)
    assert [results[0].seq, results[2].seq] == [1, 2]
    assert verify_entries(store.entries()).ok


def test_a_commit_the_writer_did_not_see_is_picked_up(stores):
    """A writer whose idea of its chain head is behind the database (as after a commit whose
    answer was lost) fails that batch, then continues from the head the database has."""
    seen = stores()
    seen.append({"n": 1})
    behind = stores(chain_id=seen.chain_id)
    seen.append({"n": 2})
    with pytest.raises(psycopg.errors.UniqueViolation):
        behind.append({"n": 3})
    assert behind.append({"n": 3}).seq == 3
    assert verify_entries(behind.entries()).checked == 3


def test_connections_cut_under_it_give_audit_unavailable(postgres_db, stores):
    """The server ends the store's sessions: the call fails as AuditUnavailable (the 503 of
    the decision path), and a later one goes through on new connections."""
    store = stores()
    store.append({"n": 1}, application_id="A1")
    with psycopg.connect(postgres_db.admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'credit-audit-log'")
    with pytest.raises(AuditUnavailable):
        store.get_by_application("A1")
    time.sleep(0.6)  # the fail-fast window (retry_after_s)
    assert store.get_by_application("A1").seq == 1


def test_a_schema_this_build_does_not_know_is_refused(postgres_db, config):
    with psycopg.connect(postgres_db.admin_url) as admin:
        admin.execute("UPDATE credit_schema_version SET version_num = 'audit_0099' "
                      "WHERE version_num = 'audit_0001'")
    with pytest.raises(SchemaMismatch, match="audit_0099, which this build does not know"):
        PostgresAuditStore(config)


def test_entries_lost_by_the_database_leave_a_gap_verify_names(postgres_db, stores):
    """The database loses this writer's last acknowledged entry (a failover to a replica
    that had not received it) and its connections: the writer does not continue from the
    shortened chain but from what it committed, so verify names the loss."""
    store = stores()
    for i in range(3):
        store.append({"n": i})
    with psycopg.connect(postgres_db.admin_url, autocommit=True) as admin:
        admin.execute("SET session_replication_role = replica")
        admin.execute("DELETE FROM audit_entries WHERE seq = 3")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'credit-audit-log'")
    with pytest.raises(AuditUnavailable):
        store.append({"n": 3})
    time.sleep(0.6)
    assert store.append({"n": 3}).seq == 4
    result = verify_entries(store.entries())
    assert not result.ok and "sequence jumps from 2 to 4" in result.problem
