"""The ReviewStore contract: the same behaviour from every backend. A backend joins by one
line in BACKENDS and one case in `review_config`."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from review.errors import CaseConflict
from review.factory import build_review_store
from review.model import Action, Case, CaseQuery, Notice, Vote
from review.postgres import PostgresReviewConfig
from review.sqlite import SQLiteReviewConfig
from tests.contract.conftest import instances

BACKENDS = ["sqlite", "postgres"]


def review_config(kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    if kind == "sqlite":
        return SQLiteReviewConfig(path=tmp_path / "reviews.db")
    if kind == "postgres":  # a fresh database at every schema head, as the service's role
        return PostgresReviewConfig(url=request.getfixturevalue("postgres_db").url)
    raise ValueError(kind)


@pytest.fixture(params=BACKENDS)
def connect(request, tmp_path):
    """Opens store instances on one backing store, as separate workers would."""
    yield from instances(lambda: build_review_store(review_config(request.param, tmp_path, request)))


@pytest.fixture
def store(connect):
    return connect()


def case(review_id="ref-1", decision_id="D1", kind="referral", country="ES",
         opened_at="2026-11-20T10:00:00.000000+00:00", **kw) -> Case:
    return Case(review_id=review_id, decision_id=decision_id, kind=kind, country=country,
                opened_at=opened_at, due_at=kw.pop("due_at", "2026-11-21T10:00:00.000000+00:00"),
                automated_outcome=kw.pop("automated_outcome", "refer"),
                four_eyes=kw.pop("four_eyes", False), reasons=("score_refer",), **kw)


def action(action_id="a1", decision_id="D1", review_id="ref-1", type="review_decision",
           actor="k1", at="2026-11-20T11:00:00.000000+00:00", country="ES") -> Action:
    return Action(action_id=action_id, decision_id=decision_id, review_id=review_id, type=type,
                  actor=actor, country=country, at=at, chain_id="c", seq=1, entry_hash="h" * 64,
                  record={"type": type})


def voted(c: Case, actor="k1", outcome="approve", action_id="a1") -> Case:
    return c.with_vote(Vote(action_id, actor, outcome, "VERIFIED_INCOME",
                            "2026-11-20T11:00:00.000000+00:00"))


def test_open_case_reads_back_and_a_replay_is_a_no_op(store):
    """A case reads back equal; opening the same review id again changes nothing."""
    c = case(excluded=("k9",))
    assert store.open_case(c) is True
    assert store.get_case("ref-1") == c
    assert store.open_case(replace(c, country="PT")) is False
    assert store.get_case("ref-1") == c
    assert store.get_case("nope") is None


def test_one_case_per_kind_and_one_open_case_per_decision(store):
    """A second case of the same kind, or a second open case, for one decision conflicts."""
    store.open_case(case())
    with pytest.raises(CaseConflict):
        store.open_case(case(review_id="ref-2"))
    with pytest.raises(CaseConflict):
        store.open_case(case(review_id="con-1", kind="contest"))
    store.save_case(voted(store.get_case("ref-1")), 0, action())
    assert store.open_case(case(review_id="con-1", kind="contest",
                                opened_at="2026-11-22T10:00:00.000000+00:00")) is True
    assert [c.kind for c in store.cases_for("D1")] == ["referral", "contest"]


def test_opening_action_is_stored_with_the_case(store):
    """An override case keeps the action that opened it, in the decision's story."""
    c = voted(case(review_id="ovr-1", kind="override", automated_outcome="decline"),
              action_id="o1")
    store.open_case(c, action(action_id="o1", review_id="ovr-1", type="decision_override"))
    assert [a.action_id for a in store.actions_for("D1")] == ["o1"]
    assert store.has_action("o1") and not store.has_action("o2")


def test_save_case_is_compare_and_set_and_idempotent(store):
    """The stored version must be the expected one; the same action twice applies once."""
    store.open_case(case(four_eyes=True))
    first = voted(store.get_case("ref-1"))
    assert store.save_case(first, 0, action()) is True
    assert store.get_case("ref-1").version == 1
    assert store.save_case(first, 0, action()) is False  # a replay of a1
    stale = voted(case(four_eyes=True), actor="k2", action_id="a2")
    with pytest.raises(CaseConflict):
        store.save_case(stale, 0, action(action_id="a2", actor="k2"))
    assert store.get_case("ref-1") == first
    assert [a.action_id for a in store.actions_for("D1")] == ["a1"]


def test_twenty_concurrent_saves_on_one_version_exactly_one_wins(connect):
    """Workers racing on one case version: one succeeds, every other gets CaseConflict."""
    connect().open_case(case())
    stores = [connect() for _ in range(4)]
    base = stores[0].get_case("ref-1")
    barrier = threading.Barrier(20)
    results: list[object] = []

    def race(i: int) -> None:
        s = stores[i % len(stores)]
        barrier.wait()
        try:
            results.append(s.save_case(voted(base, actor=f"k{i}", action_id=f"a{i}"), 0,
                                       action(action_id=f"a{i}", actor=f"k{i}")))
        except CaseConflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert sum(isinstance(r, CaseConflict) for r in results) == 19
    assert len(stores[0].actions_for("D1")) == 1


def test_queue_order_filters_and_paging(store):
    """Contests first, then oldest first; filters by status, country, kind; keyset pages
    cover every case once."""
    for i in range(7):
        store.open_case(case(review_id=f"ref-{i}", decision_id=f"D{i}",
                             country="ES" if i % 2 else "PT",
                             opened_at=f"2026-11-20T10:0{6 - i}:00.000000+00:00"))
    store.open_case(case(review_id="con-9", decision_id="D9", kind="contest",
                         opened_at="2026-11-20T12:00:00.000000+00:00"))
    store.save_case(voted(store.get_case("ref-6")), 0, action(decision_id="D6",
                                                               review_id="ref-6"))
    ids = [c.review_id for c in store.list_cases(CaseQuery(status="open"))]
    assert ids == ["con-9", "ref-5", "ref-4", "ref-3", "ref-2", "ref-1", "ref-0"]
    assert [c.review_id for c in store.list_cases(CaseQuery(status="decided"))] == ["ref-6"]
    assert {c.country for c in store.list_cases(CaseQuery(country="PT"))} == {"PT"}
    assert [c.review_id for c in store.list_cases(CaseQuery(kind="contest"))] == ["con-9"]
    assert len(store.list_cases(CaseQuery(status=None))) == 8
    seen, after = [], None
    while True:
        page = store.list_cases(CaseQuery(limit=3, after=after))
        if not page:
            break
        seen += [c.review_id for c in page]
        last = page[-1]
        after = (-last.priority, last.opened_at, last.review_id)
    assert seen == ids


def test_actions_in_order_and_counted(store):
    """A decision's actions in time order; counts per actor, country and type."""
    store.add_action(action(action_id="b", at="2026-11-20T12:00:00.000000+00:00"))
    store.add_action(action(action_id="a", at="2026-11-20T11:00:00.000000+00:00"))
    assert store.add_action(action(action_id="a")) is False
    store.add_action(action(action_id="c", decision_id="D2", type="decision_override",
                            country="PT"))
    assert [a.action_id for a in store.actions_for("D1")] == ["a", "b"]
    assert store.actions_for("D1")[0] == action(action_id="a")
    assert sorted(store.action_counts()) == [("k1", "ES", "review_decision", 2),
                                             ("k1", "PT", "decision_override", 1)]


def test_queue_stats_count_open_cases_oldest_and_overdue_per_country_and_kind(store):
    """Aggregated by the store: decided cases drop out; a case due exactly at the scrape
    time is not yet overdue."""
    at = "2026-11-21T10:00:00.000000+00:00"
    store.open_case(case("r1", "D1", opened_at="2026-11-20T09:00:00.000000+00:00",
                         due_at="2026-11-21T09:00:00.000000+00:00"))
    store.open_case(case("r2", "D2", opened_at="2026-11-20T08:00:00.000000+00:00", due_at=at))
    store.open_case(case("r3", "D3", kind="contest", opened_at="2026-11-20T11:00:00.000000+00:00",
                         due_at="2026-11-20T12:00:00.000000+00:00"))
    store.open_case(case("r4", "D4", country="PT"))
    decided = case("r5", "D5", due_at="2026-11-19T00:00:00.000000+00:00")
    store.open_case(decided)
    store.save_case(voted(decided, action_id="a5"), 0, action(action_id="a5", decision_id="D5",
                                                               review_id="r5"))
    assert sorted(store.queue_stats(at)) == [
        ("ES", "contest", 1, "2026-11-20T11:00:00.000000+00:00", 1),
        ("ES", "referral", 2, "2026-11-20T08:00:00.000000+00:00", 1),
        ("PT", "referral", 1, "2026-11-20T10:00:00.000000+00:00", 0)]
    assert store.queue_stats("2026-11-01T00:00:00.000000+00:00")[0][4] == 0


def test_open_referrals_inserts_a_burst_once_and_leaves_out_conflicts(store):
    """The live projection's write: new cases and notices in one call, counted; a replayed
    one, or a case breaking a rule (a second open case of its decision), is left out."""
    store.open_case(case())  # D1's referral, already there
    n1 = Notice("D5", "ES", "2026-11-20T10:00:00.000000+00:00", "2026-12-20T10:00:00.000000+00:00")
    burst = [case(), case("ref-2", "D2"), case("ref-3", "D3"), case("con-1", "D1", "contest")]
    assert store.open_referrals(burst, [n1]) == 3
    assert sorted(c.review_id for c in store.list_cases(CaseQuery())) == ["ref-1", "ref-2",
                                                                          "ref-3"]
    assert store.get_case("ref-2") == case("ref-2", "D2")
    assert store.get_notice("D5") == n1
    assert store.open_referrals(burst[1:3], [n1]) == 0
    assert store.open_referrals([], []) == 0


def test_notices_insert_once_update_and_list_by_due(store):
    """A decision has one notice; listing by status and country, earliest due first."""
    n1 = Notice("D1", "ES", "2026-11-20T10:00:00.000000+00:00", "2026-12-20T10:00:00.000000+00:00")
    n2 = Notice("D2", "PT", "2026-11-19T10:00:00.000000+00:00", "2026-12-19T10:00:00.000000+00:00")
    assert store.put_notice(n1) and store.put_notice(n2)
    assert store.put_notice(replace(n1, due_at="2030-01-01")) is False
    assert [n.decision_id for n in store.notices("pending")] == ["D2", "D1"]
    assert [n.decision_id for n in store.notices("pending", "ES")] == ["D1"]
    sent = replace(n1, status="sent", sent_at="2026-11-22", sent_by="k1", channel="letter")
    store.set_notice(sent)
    assert store.get_notice("D1") == sent
    assert [n.decision_id for n in store.notices("sent")] == ["D1"]
    assert store.get_notice("D3") is None


def test_present_names_which_cases_and_notices_are_held(store):
    """The catch-up's batch lookup: the ids held, nothing else; an empty batch reads nothing;
    a batch above SQLite's parameter limit (32,766) still answers."""
    store.open_case(case())
    store.put_notice(Notice("D2", "ES", "2026-11-20T10:00:00.000000+00:00",
                            "2026-12-20T10:00:00.000000+00:00"))
    assert store.cases_present(["ref-1", "ref-2", "D2"]) == {"ref-1"}
    assert store.notices_present(["D1", "D2", "ref-1"]) == {"D2"}
    assert store.cases_present([]) == set() and store.notices_present([]) == set()
    many = [f"X{i}" for i in range(40_000)]
    assert store.notices_present([*many, "D2"]) == {"D2"}


def test_checkpoints_only_move_forward(store):
    """Checkpoints per chain; an older position never moves one back."""
    assert store.checkpoints() == {}
    store.advance({"a": 5, "b": 2})
    store.advance({"a": 3, "b": 4})
    assert store.checkpoints() == {"a": 5, "b": 4}


def test_writes_are_visible_to_another_instance(connect):
    """Two instances over one backing store (two workers) see each other's writes."""
    a, b = connect(), connect()
    a.open_case(case())
    assert b.get_case("ref-1") is not None
    b.save_case(voted(b.get_case("ref-1")), 0, action())
    assert a.get_case("ref-1").outcome == "approve"


def test_backend_errors_surface_as_review_store_unavailable(connect):
    """A store that cannot answer raises the port's error (the API's 503), not its driver's."""
    from review.errors import ReviewStoreUnavailable

    s = connect()
    s.close()
    with pytest.raises(ReviewStoreUnavailable):
        s.get_case("ref-1")
    with pytest.raises(ReviewStoreUnavailable):
        s.open_case(case())
