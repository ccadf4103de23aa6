import sqlite3

import orjson
import pytest

from audit.record import GENESIS
from audit.sqlite import SQLiteAuditStore
from audit.store import DuplicateApplication
from audit.verify import verify_entries


@pytest.fixture
def store(tmp_path):
    s = SQLiteAuditStore(tmp_path / "audit.db")
    yield s
    s.close()


def fill(store, n):
    return [store.append({"n": i, "x": i / 3}, application_id=f"A{i}", decision_id=f"D{i}")
            for i in range(n)]


def test_append_links_a_chain(store):
    """Sequence numbers start at 1 and each entry points at the previous hash."""
    entries = fill(store, 3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert orjson.loads(store.get_decision("D1").body) == {"n": 1, "x": 1 / 3}
    assert store.get_by_application("A2").hash == entries[2].hash
    assert verify_entries(store.entries()).ok


def test_duplicate_application_is_refused_without_breaking_the_chain(store):
    fill(store, 2)
    with pytest.raises(DuplicateApplication):
        store.append({"again": True}, application_id="A1", decision_id="D-other")
    nxt = store.append({"n": 9}, application_id="A9", decision_id="D9")
    assert nxt.seq == 3
    result = verify_entries(store.entries())
    assert result.ok and result.checked == 3


def test_batch_with_a_duplicate_fails_only_that_item(store):
    fill(store, 1)
    results = store.append_many([({"a": 1}, "B1", "E1"), ({"a": 2}, "A0", "E2"),
                                 ({"a": 3}, "B3", "E3")])
    assert isinstance(results[1], DuplicateApplication)
    assert [r.seq for r in (results[0], results[2])] == [2, 3]
    assert verify_entries(store.entries()).ok


def test_update_and_delete_are_refused(store, tmp_path):
    fill(store, 2)
    conn = sqlite3.connect(tmp_path / "audit.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE entries SET body = x'00' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM entries WHERE seq = 1")


def test_each_writer_has_its_own_chain(tmp_path):
    """Two writers on one file keep two valid chains."""
    a, b = SQLiteAuditStore(tmp_path / "a.db"), SQLiteAuditStore(tmp_path / "a.db")
    for i in range(3):
        a.append({"w": "a", "i": i})
        b.append({"w": "b", "i": i})
    result = verify_entries(a.entries())
    assert result.ok and result.chains == 2 and result.checked == 6


def tampered(tmp_path, sql, params=()):
    store = SQLiteAuditStore(tmp_path / "t.db")
    fill(store, 5)
    store.close()
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.executescript("DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete;")
    conn.execute(sql, params) if params else conn.executescript(sql)
    conn.commit()
    return verify_entries(SQLiteAuditStore(tmp_path / "t.db").entries())


def test_verify_names_the_first_modified_record(tmp_path):
    result = tampered(tmp_path, "UPDATE entries SET body = ? WHERE seq = 3",
                      (b'{"n":2,"x":0.7}',))
    assert not result.ok and result.first_bad.endswith("#3") and "hash" in result.problem


def test_verify_detects_a_deleted_record(tmp_path):
    result = tampered(tmp_path, "DELETE FROM entries WHERE seq = 2")
    assert not result.ok and result.first_bad.endswith("#3")


def test_verify_detects_swapped_records(tmp_path):
    """Records 2 and 4 trade places (each keeps its own hashes)."""
    cols = ("prev_hash", "hash", "body")
    sets = ", ".join(f"{c} = (SELECT {c} FROM t WHERE t.seq = 6 - entries.seq)" for c in cols)
    result = tampered(tmp_path, "CREATE TEMP TABLE t AS SELECT seq, prev_hash, hash, body "
                                f"FROM entries WHERE seq IN (2, 4); UPDATE entries SET {sets} "
                                "WHERE seq IN (2, 4);")
    assert not result.ok and result.first_bad.endswith("#2")
