"""The review store caught up from the audit log: every refer record gets its case, every
human action its effect (once), whatever the live path missed."""

import threading
import time
import uuid
from collections import Counter

from audit.governance_records import ReviewDecision
from audit.records import parse_record, to_json
from audit.sqlite import SQLiteAuditStore
from core.pacing import Pacer
from review.model import CaseQuery
from review.projection import Projection, referral_id
from review.projector import ReviewProjector
from review.sqlite import SQLiteReviewStore
from tests import records
from tests.unit.review.conftest import inputs


def projector(desk, store=None, grace_s=0.0):
    projection = desk.projection if store is None else Projection(store, desk.projection.rules,
                                                                  inputs)
    return ReviewProjector(projection, desk.audit, interval_s=0, grace_s=grace_s)


def append_decisions(audit, n, outcome="refer", prefix=""):
    for i in range(n):
        did = f"{prefix}{outcome}-{i}"
        audit.append(records.decision(did, outcome=outcome, raw_inputs={"amount": 1}),
                     application_id=f"A-{did}", decision_id=did)


def test_catch_up_opens_every_referral_the_live_path_missed(desk):
    """Refer records written with no projection (a crash before the listener ran) all get a
    case, declines a notice, approvals nothing; a second pass reads only what is new."""
    append_decisions(desk.audit, 7)
    append_decisions(desk.audit, 3, "decline")
    append_decisions(desk.audit, 5, "approve")
    p = projector(desk)
    r = p.catch_up()
    assert (r.entries, r.decisions) == (15, 10)
    open_ids = {c.review_id for c in desk.store.list_cases(CaseQuery())}
    assert open_ids == {referral_id(f"refer-{i}") for i in range(7)}
    assert len(desk.store.notices("pending")) == 3
    assert p.catch_up().entries == 0
    append_decisions(desk.audit, 1, prefix="late-")
    assert p.catch_up().entries == 1


def orphan(desk, decision_id, actor, at, version=0):
    """A reviewer decision written to the log but never applied (the desk crashed)."""
    entry = desk.audit.get_decision(decision_id)
    rec = ReviewDecision(action_id=uuid.uuid4().hex, review_id=referral_id(decision_id),
                         decision_id=decision_id, decision_hash=entry.hash, country="ES",
                         at=at, actor=actor, case_version=version, outcome="approve",
                         reason_code="VERIFIED_INCOME", reason_codes_version="x",
                         four_eyes=False)
    desk.audit.append(to_json(rec))
    return rec


def test_an_orphan_action_takes_effect_once_old_enough(desk):
    """Written but not applied: left alone while it may still be in progress (the checkpoint
    waits before it), applied once older than the grace period."""
    desk.decided("D1")
    from review.model import now

    rec = orphan(desk, "D1", "k1", now())
    careful = projector(desk, grace_s=3600)
    r = careful.catch_up()
    assert r.deferred == 1 and desk.store.get_case(referral_id("D1")).outcome is None
    assert projector(desk).catch_up().actions == 1
    case = desk.store.get_case(referral_id("D1"))
    assert case.outcome == "approve" and case.votes[0].action_id == rec.action_id
    assert projector(desk).catch_up().entries == 0


def test_failed_and_losing_actions_never_take_effect(desk):
    """An action followed by review_action_failed, or one whose case version was taken by
    another action, is skipped."""
    desk.decided("D1")
    desk.decided("D2")
    desk.desk.decide(referral_id("D1"), "decline", "INSUFFICIENT_INCOME", None, "k1")
    late = orphan(desk, "D1", "k2", "2026-11-20T10:30:00.000000+00:00")  # lost to k1
    failed = orphan(desk, "D2", "k3", "2026-11-20T10:30:00.000000+00:00")
    from audit.governance_records import ReviewActionFailed

    desk.audit.append(to_json(ReviewActionFailed(
        action_id=failed.action_id, review_id=failed.review_id, country="ES",
        at="2026-11-20T10:31:00.000000+00:00", actor="k3", error="OSError")))
    r = projector(desk).catch_up()
    assert r.skipped == 2
    assert desk.store.get_case(referral_id("D1")).votes[0].actor == "k1"
    assert desk.store.get_case(referral_id("D2")).outcome is None
    assert not desk.store.has_action(late.action_id)


def test_a_rebuilt_store_equals_the_live_one(desk, tmp_path):
    """Replaying the whole log into an empty store gives the same cases and notices as the
    live path: the store is a projection of the log."""
    for i, outcome in enumerate(["refer", "refer", "decline", "approve", "refer"]):
        desk.decided(f"D{i}", outcome=outcome, amount=20_000 if i == 4 else 500)
    desk.desk.decide(referral_id("D0"), "decline", "INSUFFICIENT_INCOME", "n", "k1")
    desk.desk.contest("D0", "please look again", "app")
    desk.desk.decide(referral_id("D1"), "approve", "VERIFIED_INCOME", None, "k1")
    desk.desk.override("D3", "decline", "HIGH_DEBT_BURDEN", "debts", "k2")
    desk.desk.decide(referral_id("D4"), "approve", "VERIFIED_INCOME", None, "k1")
    desk.desk.notice_sent("D2", "letter", "k1")
    rebuilt = SQLiteReviewStore(tmp_path / "rebuilt.db")
    projector(desk, rebuilt).catch_up()
    for status in ("open", "decided"):
        assert rebuilt.list_cases(CaseQuery(status=status)) == \
            desk.store.list_cases(CaseQuery(status=status))
    for status in ("pending", "sent", "withdrawn"):
        assert rebuilt.notices(status) == desk.store.notices(status)
    for d in ("D0", "D1", "D2", "D3", "D4"):
        assert rebuilt.actions_for(d) == desk.store.actions_for(d)
    rebuilt.close()


def test_actions_in_one_chain_apply_to_decisions_of_another(desk, tmp_path):
    """Two writers (chains) on one log: an action is applied whatever order the chains are
    read in."""
    other = SQLiteAuditStore(tmp_path / "audit.db", chain_id="zzz-other-writer")
    other.append(records.decision("D1", outcome="refer", raw_inputs={"amount": 1}),
                 application_id="A-D1", decision_id="D1")
    rec = parse_record(other.get_decision("D1").body)
    assert rec.response.outcome == "refer"
    orphan(desk, "D1", "k1", "2026-11-20T11:00:00.000000+00:00")
    projector(desk).catch_up()
    assert desk.store.get_case(referral_id("D1")).outcome == "approve"
    other.close()


def test_live_queue_projects_referrals_and_never_blocks(desk):
    """on_decision queues refer/decline records for the projector's thread; a full queue
    drops (the catch-up applies them later) instead of waiting."""
    append_decisions(desk.audit, 3)
    recs = [parse_record(e.body) for e in desk.audit.entries()]
    p = ReviewProjector(desk.projection, desk.audit, interval_s=0, queue_size=2)
    for r in recs:
        p.on_decision(r)
    assert p.dropped == 1
    p.start()
    try:
        assert p.drain()
    finally:
        p.stop()
    assert len(desk.store.list_cases(CaseQuery())) == 3  # the start-up catch-up found the third


def test_live_referral_uses_the_decisions_inputs_not_the_sealed_copy(desk):
    """The orchestrator hands over the inputs it just sealed: the four-eyes amount comes from
    them and the sealed copy is never opened (a key-store read and a decryption each)."""
    append_decisions(desk.audit, 1)
    rec = parse_record(next(desk.audit.entries()).body)
    opened = []
    projection = Projection(desk.store, desk.projection.rules,
                            lambda r: opened.append(r) or inputs(r))
    big = inputs(rec).model_copy(update={"raw_inputs": {"amount": 10**9}})
    p = ReviewProjector(projection, desk.audit, interval_s=0)
    p.on_decision(rec, big)
    p.stop()  # queues the end: the thread's loop below applies the decision, then returns
    p._apply_queued()
    assert opened == []
    assert desk.store.get_case(referral_id(rec.decision_id)).four_eyes is True


def test_a_queued_burst_is_applied_in_one_store_write(desk):
    """Under load decisions queue faster than one write each: what the queue holds goes to
    the store in one write, referral cases and decline notices alike."""
    append_decisions(desk.audit, 5)
    append_decisions(desk.audit, 3, "decline")
    counting = CountingStore(desk.store)
    p = ReviewProjector(Projection(counting, desk.projection.rules, inputs), desk.audit,
                        interval_s=0)
    for e in desk.audit.entries():
        p.on_decision(parse_record(e.body))
    p.stop()  # queued after them: the loop below applies the burst, then returns
    p._apply_queued()
    assert counting.calls == {"open_referrals": 1}
    assert len(desk.store.list_cases(CaseQuery())) == 5
    assert len(desk.store.notices("pending")) == 3


def test_decisions_arriving_apart_share_a_write(desk):
    """At a few connections decisions arrive milliseconds apart: the thread waits `linger_s`
    after the first one, so they still go to the store in one write, not one each."""
    append_decisions(desk.audit, 4)
    counting = CountingStore(desk.store)
    p = ReviewProjector(Projection(counting, desk.projection.rules, inputs), desk.audit,
                        interval_s=0, linger_s=0.5)
    thread = threading.Thread(target=p._apply_queued)  # the live thread, no catch-up
    thread.start()
    try:
        for e in desk.audit.entries():
            p.on_decision(parse_record(e.body))
            time.sleep(0.02)
        assert p.drain()
    finally:
        p.stop()
        thread.join()
    assert counting.calls == {"open_referrals": 1}
    assert len(desk.store.list_cases(CaseQuery())) == 4


class CountingStore:
    """The review store, counting the reads a catch-up makes and the live writes (our own
    port, wrapped)."""

    READS = ("get_case", "get_notice", "cases_present", "notices_present", "open_referrals")

    def __init__(self, store):
        self.store, self.calls = store, Counter()

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if name not in self.READS:
            return attr

        def counted(*args):
            self.calls[name] += 1
            return attr(*args)
        return counted


def test_decisions_projected_live_cost_a_catch_up_two_reads_per_thousand(desk):
    """Every worker's pass re-reads the last minute of every chain, which the live path has
    mostly projected: those decisions are looked up a thousand at a time, never one by
    one, and none is projected twice."""
    append_decisions(desk.audit, 1500)
    append_decisions(desk.audit, 700, "decline")
    desk.projection.decisions([(parse_record(e.body), None)  # live; no checkpoint
                               for e in desk.audit.entries()])
    counting = CountingStore(desk.store)
    r = projector(desk, store=counting).catch_up()
    assert (r.entries, r.decisions) == (2200, 2200)
    assert counting.calls == {"cases_present": 3, "notices_present": 3}  # 3 chunks
    assert len(desk.store.list_cases(CaseQuery(limit=5000))) == 1500


def test_a_paced_pass_pauses_and_projects_the_same(desk):
    """The background pass (cpu_share below 1) gives the GIL up between entries: it sleeps,
    and applies exactly what a full-speed pass would."""
    append_decisions(desk.audit, 400)
    append_decisions(desk.audit, 100, "decline")
    pace = Pacer(share=0.25, slice_s=0.001)
    r = projector(desk).catch_up(pace)
    assert (r.entries, r.decisions) == (500, 500) and pace.slept_s > 0
    assert len(desk.store.list_cases(CaseQuery(limit=1000))) == 400
    assert len(desk.store.notices("pending")) == 100
