"""The OutcomeStore contract: the same behaviour from every backend. A backend joins by one
line in BACKENDS and one branch in `outcome_config` (each call: a store of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoring.factory import open_outcome_store
from monitoring.postgres import PostgresOutcomeConfig
from monitoring.sqlite import SQLiteOutcomeConfig
from monitoring.store import (
    NO_OUTCOME,
    AddResult,
    Batch,
    BinCount,
    Fact,
    Observation,
    OutcomeStore,
    Period,
)
from tests.conftest import drop_postgres_db, new_postgres_db

BACKENDS = ["sqlite", "postgres"]


def outcome_config(kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    if kind == "sqlite":
        return SQLiteOutcomeConfig(path=tmp_path / "outcomes.db")
    if kind == "postgres":  # a fresh database at every schema head, as the service's role
        server = request.getfixturevalue("postgres")
        db = new_postgres_db(server)
        request.addfinalizer(lambda: drop_postgres_db(server, db))
        return PostgresOutcomeConfig(url=db.url)
    raise AssertionError(kind)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OutcomeStore]:
    s = open_outcome_store(outcome_config(request.param, tmp_path, request))
    yield s
    s.close()


def batch(n: int, batch_id: str = "B1", at: str = "2026-11-30T10:00:00.000000Z",
          rejected: int = 0) -> Batch:
    return Batch(batch_id, at, "api", None, "c" * 64, n + rejected, rejected)


def add(store, observations, batch_id="B1", ref="chain-1/7"):
    seen: list[AddResult] = []

    def record(result: AddResult) -> str:
        seen.append(result)
        return ref

    result = store.add(batch(len(observations), batch_id), observations, record)
    assert seen == [result]
    return result


def current(store, decision_id):
    return [h.observation for h in store.history(decision_id) if h.current]


def test_new_observations_are_stored_with_their_batch(store):
    """Every new observation is accepted, kept with its batch, and current."""
    obs = [Observation("D1", False, "2026-11-30", True, 3), Observation("D2", True, "2026-11-30")]
    assert add(store, obs) == AddResult(2, ())
    [h] = store.history("D1")
    assert (h.observation, h.batch_id, h.current) == (obs[0], "B1", True)
    [b] = store.batches()
    assert (b.batch.batch_id, b.accepted, b.duplicates, b.audit_ref) == ("B1", 2, 0, "chain-1/7")


def test_the_same_observation_twice_is_a_duplicate_and_changes_nothing(store):
    """Re-sending a batch (or repeating an item in one) stores nothing new."""
    obs = Observation("D1", False, "2026-11-30")
    add(store, [obs])
    again = add(store, [obs, Observation("D2", True, "2026-11-30"),
                        Observation("D2", True, "2026-11-30")], batch_id="B2")
    assert again == AddResult(1, (0, 2))
    assert [h.observation for h in store.history("D1")] == [obs]
    assert [(b.accepted, b.duplicates) for b in store.batches()] == [(1, 2), (1, 0)]
    assert [b.batch.batch_id for b in store.batches(limit=1)] == ["B2"]
    totals = store.batch_totals()
    assert (totals.batches, totals.items, totals.accepted, totals.duplicates) == (2, 4, 2, 2)


def test_a_later_observation_supersedes_and_both_stay_on_record(store):
    """Current is the latest observed_at; the earlier observation is still there."""
    early, late = (Observation("D1", False, "2026-06-30", True, 6),
                   Observation("D1", True, "2026-12-31", True, 12))
    add(store, [early])
    add(store, [late], batch_id="B2")
    assert [h.observation for h in store.history("D1")] == [early, late]
    assert current(store, "D1") == [late]


def test_an_earlier_observation_arriving_late_does_not_supersede(store):
    """Out-of-order data: the order of arrival does not change the current state."""
    early, late = (Observation("D1", False, "2026-06-30"), Observation("D1", True, "2026-12-31"))
    add(store, [late])
    add(store, [early], batch_id="B2")
    assert current(store, "D1") == [late]
    assert len(store.history("D1")) == 2


def test_a_correction_on_the_same_day_supersedes(store):
    """Two different observations of one day: the later arrival is the current one."""
    first, fixed = (Observation("D1", True, "2026-06-30"), Observation("D1", False, "2026-06-30"))
    add(store, [first])
    add(store, [fixed], batch_id="B2")
    assert current(store, "D1") == [fixed]


def test_a_failing_record_step_stores_nothing(store):
    """When the batch's audit record cannot be written, neither are its outcomes."""
    def record(result):
        raise RuntimeError("audit log down")

    with pytest.raises(RuntimeError, match="audit log down"):
        store.add(batch(1), [Observation("D1", False, "2026-11-30")], record)
    assert store.history("D1") == [] and store.batches() == []
    assert add(store, [Observation("D1", False, "2026-11-30")]) == AddResult(1, ())


def fact(decision_id, at="2026-11-30T10:00:00+00:00", country="ES", decided_by="model",
         outcome="approve", pd=0.1):
    return Fact(decision_id, at, country, decided_by, "1", outcome, pd, None, None, False)


def test_projection_moves_the_checkpoint_atomically(store):
    """Facts, counts and the checkpoint go in together; a stale checkpoint writes nothing."""
    counts = [BinCount("2026-11-30", "ES", "1", "amount", 2, 5)]
    assert store.project("c1", 0, 10, [fact("D1")], counts)
    assert store.checkpoints() == {"c1": 10}
    assert not store.project("c1", 0, 12, [fact("D2")], counts)  # someone else did 1..10
    assert store.checkpoints() == {"c1": 10}
    assert [r[0] for r in store.decision_rows(Period())] == ["D1"]
    assert store.bin_counts(Period()) == [("1", "amount", 2, 5)]
    assert store.project("c1", 10, 20, [fact("D2")], counts)
    assert store.bin_counts(Period()) == [("1", "amount", 2, 10)]


def test_decision_rows_join_the_current_outcome(store):
    """Each decision comes with its current outcome (also one reported before it was
    projected); decisions without one have none."""
    add(store, [Observation("D1", True, "2026-11-30", True, 4),
                Observation("D3", False, "2026-11-30", False)])
    store.project("c1", 0, 3, [fact("D1"), fact("D2", decided_by="legacy", pd=None),
                               fact("D3")], [])
    rows = {r[0]: r for r in store.decision_rows(Period())}
    assert rows["D1"][1:] == ("2026-11-30T10:00:00+00:00", "ES", "model", "1", "approve", 0.1,
                              None, None, 1, 1, 1, 4)
    assert rows["D2"][9:] == (0, None, None, None)
    assert rows["D3"][9:] == (1, 0, 0, None)


def test_periods_are_whole_days_both_inclusive_and_by_country(store):
    """since/until select decision days (UTC) inclusively; country narrows."""
    facts = [fact("D1", "2026-11-01T00:00:00+00:00"), fact("D2", "2026-11-15T23:59:59+00:00"),
             fact("D3", "2026-11-16T00:00:00+00:00", country="PT")]
    counts = [BinCount(d, c, "1", "age", 0, 1) for d, c in
              (("2026-11-01", "ES"), ("2026-11-15", "ES"), ("2026-11-16", "PT"))]
    store.project("c1", 0, 3, facts, counts)

    def ids(**kw):
        return sorted(r[0] for r in store.decision_rows(Period(**kw)))

    assert ids(since="2026-11-01", until="2026-11-15") == ["D1", "D2"]
    assert ids(since="2026-11-02") == ["D2", "D3"]
    assert ids(until="2026-11-16", country="PT") == ["D3"]
    assert store.bin_counts(Period(since="2026-11-15", until="2026-11-15")) == [("1", "age", 0, 1)]
    assert store.bin_counts(Period(country="ES")) == [("1", "age", 0, 2)]


def cells(store, period=Period(), cohort_chars=7):
    return sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in c)
                  for c in store.performance_cells(period, cohort_chars))


PERF_FACTS = [  # pd_band as monitoring.performance would give it
    Fact("D1", "2026-10-01T00:00:00+00:00", "ES", "model", "1", "approve", 0.01, None,
         "approve", False, 0),
    Fact("D2", "2026-11-01T00:00:00+00:00", "ES", "model", "1", "approve", 0.03, None,
         "approve", False, 1),
    Fact("D3", "2026-11-02T00:00:00+00:00", "ES", "model", "1", "approve", 0.04, None,
         "decline", False, 1),
    Fact("D4", "2026-11-03T00:00:00+00:00", "ES", "model", "1", "decline", 0.6, None, None,
         False, 6),
    Fact("D5", "2026-11-04T00:00:00+00:00", "ES", "legacy", "1", "approve", None, 120.0, None,
         False, -1)]
PERF_OUTCOMES = [Observation("D1", False, "2026-12-01"), Observation("D2", True, "2026-12-01"),
                 Observation("D3", False, "2026-12-01", False),
                 Observation("D5", True, "2026-12-01", True)]


def test_performance_cells_count_each_decision_in_its_current_state(store):
    """By group (version "" for legacy), cohort, approval, outcome state, shadow and PD band:
    decisions, those with a PD, and the PD's sum and sum of squares."""
    from monitoring.store import DEFAULTED, NO_OUTCOME, NOT_TAKEN, REPAID

    store.project("c1", 0, 5, PERF_FACTS, [])
    add(store, PERF_OUTCOMES)
    assert cells(store) == sorted([
        ("ES", "model", "1", "2026-10", 1, REPAID, 1, 0, 1, 1, 0.01, 0.0001),
        ("ES", "model", "1", "2026-11", 1, DEFAULTED, 1, 1, 1, 1, 0.03, 0.0009),
        ("ES", "model", "1", "2026-11", 1, NOT_TAKEN, 0, 1, 1, 1, 0.04, 0.0016),
        ("ES", "model", "1", "2026-11", 0, NO_OUTCOME, -1, 6, 1, 1, 0.6, 0.36),
        ("ES", "legacy", "", "2026-11", 1, DEFAULTED, -1, -1, 1, 0, 0.0, 0.0)])
    assert [c[3] for c in cells(store, cohort_chars=10)][:2] == ["2026-11-04", "2026-10-01"]
    assert cells(store, Period(since="2026-11-04"))[0][:3] == ("ES", "legacy", "")
    assert sorted(store.scored_loans(Period())) == sorted([
        ("ES", "model", "1", 0.01, None, 0), ("ES", "model", "1", 0.03, None, 1),
        ("ES", "legacy", "", None, 120.0, 1)])


def test_a_step_counts_each_new_decision_once_in_its_cell(store):
    """Decisions of one cell are summed into it; one projected before (by an earlier step)
    or twice in the step is counted once, and the legacy decision has no PD to count."""
    same = [Fact(f"S{i}", "2026-11-05T09:00:00+00:00", "ES", "model", "1", "approve",
                 0.1 * (i + 1), None, None, False, 2) for i in range(3)]
    legacy = Fact("L1", "2026-11-05T09:30:00+00:00", "ES", "legacy", "1", "approve", None,
                  90.0, None, False, -1)
    assert store.project("c1", 0, 1, same[:1], [])
    assert store.project("c2", 0, 5, [*same, legacy, same[1]], [])
    assert cells(store) == sorted([
        ("ES", "model", "1", "2026-11", 1, NO_OUTCOME, -1, 2, 3, 3, 0.6, 0.14),
        ("ES", "legacy", "", "2026-11", 1, NO_OUTCOME, -1, -1, 1, 0, 0.0, 0.0)])


def test_performance_cells_do_not_depend_on_arrival_order(store, tmp_path, request):
    """Outcomes reported before their decisions are projected count the same; a later
    observation moves its decision to its new state, an earlier one does not."""
    store.project("c1", 0, 5, PERF_FACTS, [])
    add(store, PERF_OUTCOMES)
    expected = cells(store)
    other = open_outcome_store(outcome_config(request.node.callspec.params["store"],
                                              tmp_path / "other", request))
    try:
        add(other, PERF_OUTCOMES)
        other.project("c1", 0, 5, PERF_FACTS, [])
        assert cells(other) == expected
        add(other, [Observation("D1", True, "2027-01-31")], batch_id="B2")   # now defaulted
        add(other, [Observation("D2", False, "2026-11-30")], batch_id="B3")  # older: ignored
        moved = {c[:8]: c[8] for c in cells(other)}
        assert moved[("ES", "model", "1", "2026-10", 1, 3, 1, 0)] == 1
        assert ("ES", "model", "1", "2026-10", 1, 2, 1, 0) not in moved
        assert moved[("ES", "model", "1", "2026-11", 1, 3, 1, 1)] == 1
    finally:
        other.close()
