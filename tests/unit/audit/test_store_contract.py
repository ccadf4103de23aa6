"""The AuditStore contract: every backend (sqlite, dynamodb on moto, postgres) passes the same
tests."""

from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from audit.record import GENESIS
from audit.store import DuplicateApplication
from audit.verify import verify_entries


def fill(store, n, tag="A"):
    return [store.append({"n": i, "x": i / 3}, application_id=f"{tag}{i}",
                         decision_id=f"D{tag}{i}") for i in range(n)]


def test_append_links_a_chain(backend):
    """Sequence numbers start at 1, each entry points at the previous hash, lookups work."""
    store = backend.open()
    entries = fill(store, 3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert orjson.loads(store.get_decision("DA1").body) == {"n": 1, "x": 1 / 3}
    assert store.get_by_application("A2") == entries[2]
    assert store.get_decision("nope") is None and store.get_by_application("nope") is None
    assert verify_entries(store.entries()).ok


def test_duplicate_application_is_refused_without_a_gap(backend):
    """A taken application_id fails that append only; the next entry takes the next seq."""
    store = backend.open()
    fill(store, 2)
    with pytest.raises(DuplicateApplication):
        store.append({"again": True}, application_id="A1", decision_id="D-other")
    assert store.get_decision("D-other") is None
    assert store.append({"n": 9}, application_id="A9").seq == 3
    result = verify_entries(store.entries())
    assert result.ok and result.checked == 3


def test_batch_with_a_duplicate_fails_only_that_item(backend):
    store = backend.open()
    fill(store, 1)
    results = store.append_many([({"a": 1}, "B1", "E1"), ({"a": 2}, "A0", "E2"),
                                 ({"a": 3}, "B3", "E3")])
    assert isinstance(results[1], DuplicateApplication)
    assert [r.seq for r in (results[0], results[2])] == [2, 3]
    assert verify_entries(store.entries()).ok


def test_duplicates_racing_make_one_entry(backend):
    """Writers racing on one application_id: exactly one entry exists afterwards. On SQLite
    they really run at once. moto's threaded server does not apply a TransactWriteItems'
    conditions atomically under concurrency (seen: 2 winners of 16) while DynamoDB's own
    transactions are, so there the race is played in turns: every writer has looked the id
    up and found nothing before any writes, so only the conditional write can decide."""
    a, b = backend.open(), backend.open()
    writers = [(a if i % 2 else b, i) for i in range(16)]

    def put(args):
        store, i = args
        try:
            return store.append({"i": i}, application_id="SAME")
        except DuplicateApplication:
            return None

    if backend.name == "dynamodb":
        assert all(store.get_by_application("SAME") is None for store, _ in writers)
        results = [put(w) for w in writers]
    else:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(put, writers))
    assert sum(r is not None for r in results) == 1
    assert verify_entries(a.entries()).checked == 1


def test_a_writer_behind_its_chain_cannot_overwrite_it(backend):
    """Two writers that both believe they own chain c (a restarted process, a split brain):
    the second's append at a seq already written is refused, nothing is overwritten."""
    a = backend.open(chain_id="c")
    b = backend.open(chain_id="c")  # its view of the head: empty too, if opened first
    a.append({"n": 1}, application_id="A1")
    stale = backend.open(chain_id="c")
    a.append({"n": 2}, application_id="A2")
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError / TransactWriteError
        stale.append({"n": "forged"}, application_id="X")
    del b
    assert [e.application_id for e in a.entries("c")] == ["A1", "A2"]
    assert verify_entries(a.entries("c")).ok


def test_each_writer_has_its_own_chain(backend):
    """Two writers keep two valid chains; heads name each chain's last entry."""
    a, b = backend.open(), backend.open()
    for i in range(3):
        a.append({"w": "a", "i": i})
        b.append({"w": "b", "i": i})
    b.append({"w": "b", "i": 3})
    result = verify_entries(a.entries())
    assert result.ok and result.chains == 2 and result.checked == 7
    heads = {h.chain_id: h.seq for h in a.heads()}
    assert heads == {a.chain_id: 3, b.chain_id: 4}


def test_reopening_a_chain_continues_it(backend):
    store = backend.open()
    fill(store, 2)
    again = backend.open(chain_id=store.chain_id)
    assert again.append({"later": 1}).seq == 3
    assert verify_entries(again.entries()).ok


def test_entries_of_a_seq_range(backend):
    """A chain's seq range comes back alone, in order, and verifies as a partial range."""
    store = backend.open()
    fill(store, 6)
    backend.open().append({"other": 1})
    got = list(store.entries(store.chain_id, 2, 4))
    assert [e.seq for e in got] == [2, 3, 4] and {e.chain_id for e in got} == {store.chain_id}
    assert verify_entries(got, partial=True).ok
    assert not verify_entries(got).ok  # from genesis it must start at seq 1
