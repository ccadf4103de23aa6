"""The read model, projected from a real audit log: once per record, whoever projects."""

from __future__ import annotations

from dataclasses import astuple

import numpy as np
import orjson
import pytest

from audit.keystore import SQLiteCustomerKeyStore
from audit.pii import EnvelopeCipher, Pseudonymizer, RecordProtector, RecordReader
from audit.records import DecisionInputs, DecisionRecord, parse_record
from audit.sqlite import SQLiteAuditStore
from core.pacing import Pacer
from monitoring.projection import Projector, fact_of
from monitoring.reference import Reference
from monitoring.store import Period
from tests import records

REF = Reference.fit(np.column_stack([np.arange(100.0), np.arange(100.0) * 10]),
                    ["age", "amount"], np.linspace(0.01, 0.5, 100), "1")


@pytest.fixture
def reader(tmp_path):
    keys = SQLiteCustomerKeyStore(tmp_path / "keys.db")
    yield RecordReader(EnvelopeCipher([b"m" * 32], keys))
    keys.close()


@pytest.fixture
def protector(reader):
    return RecordProtector(Pseudonymizer(b"p" * 32), reader.cipher)


def refs(version):
    return REF if version == "1" else None


def log(audit, n, start=10, **kw):
    for i in range(start, start + n):
        audit.append(records.decision(f"D{i}", application_id=f"A{i}", pd=0.02 * (i % 20),
                                      features={"age": float(i), "amount": 10.0 * i}, **kw),
                     application_id=f"A{i}", decision_id=f"D{i}")


def log_sealed(audit, protector, n, start=10, customers=3):
    """Decisions as the orchestrator writes them now (schema 2): the inputs sealed."""
    for i in range(start, start + n):
        app = {"application_id": f"A{i}", "country": "ES", "loan": {},
               "consent": {"bureau": True, "open_banking": True},
               "applicant": {"customer_id": f"C{i % customers}",
                             "national_id": f"N{i % customers}"}}
        inputs = DecisionInputs(raw_inputs={}, features={"age": float(i), "amount": 10.0 * i},
                                velocity=None, sources={})
        doc = records.decision(f"D{i}", application_id=f"A{i}", pd=0.02 * (i % 20),
                               decided_by="legacy" if i % 4 == 0 else "model",
                               shadow=records.shadow("approve", "refer") if i % 4 == 0 else None)
        audit.append(records.sealed(doc, protector, app, inputs), application_id=f"A{i}",
                     decision_id=f"D{i}")


def counts(store, feature):
    out = np.zeros(REF.features.get(feature, REF.score).size, dtype=int)
    for _, f, b, n in store.bin_counts(Period()):
        if f == feature:
            out[b] += n
    return out


def test_every_decision_once_with_its_binned_features(audit, outcome_store, reader):
    """Facts for every decision record (flag changes skipped), features and score binned
    against the version's reference, and the checkpoint at the chain's head."""
    log(audit, 20)
    audit.append(records.flag_change())
    fresh = Projector(audit, outcome_store, reader, refs, batch=7).catch_up()
    assert (fresh.projected, fresh.pending, fresh.caught_up) == (24, 0, True)
    rows = outcome_store.decision_rows(Period())
    assert len(rows) == 23  # the 3 decisions of the fixture and 20 more
    [head] = audit.heads()
    assert outcome_store.checkpoints() == {head.chain_id: head.seq}
    ages = [float(i) for i in range(10, 30)]
    assert counts(outcome_store, "age")[:-1].sum() == 20
    assert counts(outcome_store, "age").tolist() == (
        REF.features["age"].count(np.array(ages + [np.nan] * 3))).tolist()
    assert counts(outcome_store, "score").sum() == 23


class CountingReader(RecordReader):
    def __init__(self, cipher):
        super().__init__(cipher)
        self.opened: list[str] = []

    def inputs(self, record):
        self.opened.append(record.decision_id)
        return super().inputs(record)


def hand_over(projector, audit, start, n):
    """Log decisions as the orchestrator does, then hand each over live with its inputs."""
    log(audit, n, start=start)
    for i in range(start, start + n):
        rec = parse_record(audit.get_by_application(f"A{i}").body)
        projector.on_decision(rec, DecisionInputs(
            raw_inputs={}, features={"age": float(i), "amount": 10.0 * i}, velocity=None,
            sources={}))


def test_decisions_handed_over_live_are_projected_without_opening_them(audit, outcome_store,
                                                                         reader):
    """The orchestrator's hand-over: the same facts and counts as parsing the log, and the
    sealed inputs of those decisions are never opened; the others are."""
    counting = CountingReader(reader.cipher)
    projector = Projector(audit, outcome_store, counting, refs)
    hand_over(projector, audit, 10, 20)
    fresh = projector.catch_up()
    assert (fresh.projected, fresh.pending) == (23, 0)
    assert counting.opened == ["D1", "D2", "D3"]  # the fixture's, not handed over
    ages = [float(i) for i in range(10, 30)]
    assert counts(outcome_store, "age").tolist() == (
        REF.features["age"].count(np.array(ages + [np.nan] * 3))).tolist()
    assert counts(outcome_store, "score").sum() == 23
    assert len(outcome_store.decision_rows(Period())) == 23


def test_decisions_another_process_projected_are_dropped_after_two_passes(
        audit, outcome_store, reader):
    """What another process projected first is never reached here: the background pass
    after next drops it, so memory stays bounded; past `live` nothing more is kept."""
    projector = Projector(audit, outcome_store, reader, refs, live=5)
    hand_over(projector, audit, 10, 8)
    assert len(projector._live) == 5
    Projector(audit, outcome_store, reader, refs).catch_up()  # the other process
    projector.catch_up(share=True)
    assert (len(projector._live), len(projector._older)) == (0, 5)
    projector.catch_up(share=True)
    assert (len(projector._live), len(projector._older)) == (0, 0)
    assert len(outcome_store.decision_rows(Period())) == 11


def test_a_paced_refresh_pauses_and_projects_the_same(audit, outcome_store, reader):
    """The background refresh (core/pacing.py) gives the GIL up between records: it sleeps,
    and the read model ends as a full-speed catch-up would leave it."""
    log(audit, 200)
    pace = Pacer(share=0.25, slice_s=0.001)
    fresh = Projector(audit, outcome_store, reader, refs).catch_up(share=True, pace=pace)
    assert (fresh.projected, fresh.pending) == (203, 0) and pace.slept_s > 0
    assert len(outcome_store.decision_rows(Period())) == 203
    assert counts(outcome_store, "score").sum() == 203


def test_incremental_and_never_twice(audit, outcome_store, reader):
    """A second projector (another process) on the same store finds nothing to do; new
    records are projected once."""
    log(audit, 5)
    a = Projector(audit, outcome_store, reader, refs)
    b = Projector(audit, outcome_store, reader, refs)
    assert a.catch_up().projected == 8
    assert b.catch_up().projected == 0
    log(audit, 4, start=100)
    assert b.catch_up().projected == 4 and a.catch_up().projected == 0
    assert len(outcome_store.decision_rows(Period())) == 12
    assert counts(outcome_store, "score").sum() == 12


class RacedStore:
    """The outcome store, where another process projects the same first batch of `chain`
    just before this one writes it (the race every worker's background refresh runs into)."""

    def __init__(self, store, chain):
        self.store, self.chain = store, chain
        self.writes: list[str] = []

    def project(self, chain_id, *args):
        if chain_id == self.chain and self.chain not in self.writes:
            assert self.store.project(chain_id, *args)  # the other process wins
        self.writes.append(chain_id)
        return self.store.project(chain_id, *args)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_the_shared_refresh_starts_on_its_own_chain_and_leaves_a_raced_one(
        audit, outcome_store, reader, tmp_path):
    """Every worker refreshes in the background: each starts on the chain it writes, and a
    chain another process is projecting is left to it for this pass, not projected again
    batch after batch only to lose each race."""
    mine = SQLiteAuditStore(tmp_path / "audit.db")  # a second writer: this process's chain
    log(mine, 6, start=200)
    log(audit, 6, start=300)  # the other chain: 3 + 6 entries
    raced = RacedStore(outcome_store, audit.chain_id)
    fresh = Projector(mine, raced, reader, refs, batch=2).catch_up(share=True)
    assert raced.writes == [mine.chain_id] * 3 + [audit.chain_id]
    assert (fresh.projected, fresh.pending) == (6, 7)
    assert len(outcome_store.decision_rows(Period())) == 6 + 2  # each once
    mine.close()


def test_unshared_a_raced_batch_is_skipped_and_the_rest_projected(audit, outcome_store,
                                                                  reader):
    """A request's catch-up goes on after losing a race: it answers as fresh as it can."""
    log(audit, 6, start=300)
    raced = RacedStore(outcome_store, audit.chain_id)
    fresh = Projector(audit, raced, reader, refs, batch=2).catch_up()
    assert (fresh.projected, fresh.pending, len(raced.writes)) == (7, 0, 5)
    assert len(outcome_store.decision_rows(Period())) == 9


def test_a_budget_stops_early_and_says_what_is_pending(audit, outcome_store, reader):
    """A spent budget projects nothing more and counts what is left."""
    log(audit, 5)
    fresh = Projector(audit, outcome_store, reader, refs).catch_up(budget_s=0)
    assert (fresh.projected, fresh.pending, fresh.caught_up) == (0, 8, False)


def test_a_request_does_not_wait_past_its_budget_for_a_running_catch_up(audit, outcome_store,
                                                                        reader):
    """While the background refresh holds the projection, a request answers within its
    budget, saying how much is pending."""
    log(audit, 5)
    projector = Projector(audit, outcome_store, reader, refs)
    with projector._lock:  # the background refresh, busy
        fresh = projector.catch_up(budget_s=0.05)
    assert (fresh.projected, fresh.pending) == (0, 8) and "another" in fresh.error
    assert fresh.seconds < 1


def test_a_failing_registry_leaves_the_model_older_not_wrong(audit, outcome_store, reader):
    """No reference (registry down): nothing is projected without its counts; the next
    catch-up does it all."""
    log(audit, 3)

    def down(version):
        raise ConnectionError("registry unreachable")

    fresh = Projector(audit, outcome_store, reader, down).catch_up()
    assert fresh.pending is None and "ConnectionError" in fresh.error
    assert outcome_store.decision_rows(Period()) == []
    assert Projector(audit, outcome_store, reader, refs).catch_up().projected == 6
    assert counts(outcome_store, "score").sum() == 6


def test_a_malformed_decision_stops_the_pass_and_projects_nothing_of_its_batch(
        audit, outcome_store, reader):
    """The view validates what it reads: a decision without its response is an error that
    the answer names, not a fact with holes."""
    log(audit, 2)
    doc = records.decision("BAD", application_id="A-BAD")
    del doc["response"]
    audit.append(doc, application_id="A-BAD", decision_id="BAD")
    fresh = Projector(audit, outcome_store, reader, refs).catch_up()
    assert fresh.pending is None and "ValidationError" in fresh.error
    assert outcome_store.decision_rows(Period()) == []


def test_versions_without_a_reference_get_facts_but_no_counts(audit, outcome_store, reader):
    """A version trained before references: its decisions are in performance, not in drift."""
    audit.append(records.decision("V2", model={"name": "m", "version": "2", "run_id": "r"}),
                 application_id="A-V2", decision_id="V2")
    Projector(audit, outcome_store, reader, refs).catch_up()
    rows = {r[0]: r for r in outcome_store.decision_rows(Period())}
    assert rows["V2"][4] == "2"
    assert {v for v, *_ in outcome_store.bin_counts(Period())} == {"1"}


def test_an_erased_customer_is_counted_by_score_only(audit, outcome_store, reader):
    """Without readable inputs only the (non-personal) score is counted."""
    class Erased(RecordReader):
        def inputs(self, record):
            return None

    log(audit, 2)
    Projector(audit, outcome_store, Erased(reader.cipher), refs).catch_up()
    assert counts(outcome_store, "age").sum() == 0
    assert counts(outcome_store, "score").sum() == 5


def test_sealed_decisions_project_as_their_whole_records_do(audit, outcome_store, reader,
                                                            protector):
    """Schema 2: the view's facts are those of the whole parsed record, and the features
    are counted from the sealed inputs."""
    log_sealed(audit, protector, 20)
    fresh = Projector(audit, outcome_store, reader, refs).catch_up()
    assert (fresh.projected, fresh.pending) == (23, 0)
    whole = [fact_of(r) for e in audit.entries()
             if isinstance(r := parse_record(e.body), DecisionRecord)]
    assert sorted(outcome_store.decision_rows(Period())) == sorted(
        (*astuple(f)[:9], 0, None, None, None) for f in whole)
    ages = [float(i) for i in range(10, 30)]
    assert counts(outcome_store, "age").tolist() == (
        REF.features["age"].count(np.array(ages + [np.nan] * 3))).tolist()
    assert counts(outcome_store, "score").sum() == 23


def test_an_erased_sealed_customer_is_counted_by_score_only(audit, outcome_store, reader,
                                                            protector):
    log_sealed(audit, protector, 6, customers=2)  # C0: decisions 10, 12 and 14
    protector.cipher.keys.erase(protector.pseudonymizer.customer_ref("C0"))
    Projector(audit, outcome_store, reader, refs).catch_up()
    assert counts(outcome_store, "age")[:-1].sum() == 3
    assert counts(outcome_store, "score").sum() == 9


def test_legacy_decisions_carry_the_shadow_models_pd():
    """The model's PD of a legacy decision is its shadow run's; the other arm's outcome is
    kept for the counterfactual."""
    doc = records.decision("L1", decided_by="legacy", outcome="approve",
                           shadow=records.shadow("approve", "decline", pd=0.37))
    doc["shadow"]["arm"] = "model"
    rec = parse_record(orjson.dumps(doc))
    assert isinstance(rec, DecisionRecord)
    f = fact_of(rec)
    assert (f.decided_by, f.pd, f.shadow_outcome, f.legacy_points) == ("legacy", 0.37, "decline",
                                                                       100.0)
