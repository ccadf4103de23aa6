"""The review desk: every human action audited first (linked to the decision's entry), then
applied by compare-and-set; four eyes; overrides, contests and notices."""

import threading

import orjson
import pytest

from audit.records import parse_record
from audit.store import AuditUnavailable
from review.errors import (
    CaseConflict,
    InvalidReview,
    ReviewerExcluded,
    ReviewNotFound,
    ReviewRefused,
    ReviewStoreUnavailable,
    SameReviewer,
)
from review.projection import referral_id


def logged(d):
    """The typed records in the audit log, in order."""
    return [parse_record(e.body) for e in d.audit.entries()]


def test_reviewer_decision_is_audited_linked_and_decides_the_case(desk):
    """One vote decides a small referral; the record names the decision and its entry hash;
    the story shows the final outcome and the action's own place in the log."""
    desk.decided("D1")
    case = desk.desk.decide(referral_id("D1"), "approve", "VERIFIED_INCOME", "payslips", "k1")
    assert (case.outcome, case.version, case.four_eyes) == ("approve", 1, False)
    decision_entry = desk.audit.get_decision("D1")
    rec = logged(desk)[-1]
    assert rec.type == "review_decision" and rec.decision_hash == decision_entry.hash
    assert (rec.actor, rec.outcome, rec.reason_code, rec.case_version) == (
        "k1", "approve", "VERIFIED_INCOME", 0)
    story = desk.desk.story(parse_record(decision_entry.body))
    assert story.final_outcome == "approve"
    [action] = story.actions
    last = list(desk.audit.entries())[-1]
    assert (action.entry_hash, action.seq) == (last.hash, last.seq)


def test_four_eyes_same_key_twice_is_refused_a_second_key_completes(desk):
    """Above the amount: the first vote waits, the same key again is refused without a
    record, a different key agreeing decides."""
    desk.decided("D1", amount=25_000)
    rid = referral_id("D1")
    first = desk.desk.decide(rid, "approve", "VERIFIED_INCOME", None, "k1")
    assert first.awaiting_second and first.outcome is None
    n = len(logged(desk))
    with pytest.raises(SameReviewer):
        desk.desk.decide(rid, "approve", "VERIFIED_INCOME", None, "k1")
    assert len(logged(desk)) == n
    done = desk.desk.decide(rid, "approve", "COMPENSATING_FACTORS", None, "k2")
    assert done.outcome == "approve" and [v.actor for v in done.votes] == ["k1", "k2"]
    assert logged(desk)[-1].four_eyes is True


def test_four_eyes_amount_is_per_country(desk):
    """PT asks for two reviewers above 5,000; ES only above 10,000."""
    desk.decided("D1", amount=6_000, country="PT")
    desk.decided("D2", amount=6_000, country="ES")
    assert desk.store.get_case(referral_id("D1")).four_eyes
    assert not desk.store.get_case(referral_id("D2")).four_eyes


def test_invalid_reason_or_unknown_case_records_nothing(desk):
    desk.decided("D1")
    n = len(logged(desk))
    with pytest.raises(InvalidReview):
        desk.desk.decide(referral_id("D1"), "approve", "INSUFFICIENT_INCOME", None, "k1")
    with pytest.raises(ReviewNotFound):
        desk.desk.decide("ref-nothere", "approve", "VERIFIED_INCOME", None, "k1")
    assert len(logged(desk)) == n


def test_twenty_concurrent_decisions_on_one_case_exactly_one_takes_effect(desk):
    """Every racer that got past validation is audited; all but one are followed by a
    review_action_failed record and get CaseConflict; the case holds the one winner."""
    desk.decided("D1")
    rid = referral_id("D1")
    barrier = threading.Barrier(20)
    results = []

    def race(i):
        barrier.wait()
        try:
            results.append(desk.desk.decide(rid, "decline", "INSUFFICIENT_INCOME", None, f"k{i}"))
        except CaseConflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if not isinstance(r, Exception)]
    assert len(won) == 1 and len(results) == 20
    recs = logged(desk)
    failed = {r.action_id for r in recs if r.type == "review_action_failed"}
    effective = [r for r in recs if r.type == "review_decision" and r.action_id not in failed]
    assert [r.actor for r in effective] == [won[0].votes[0].actor]
    assert desk.store.get_case(rid).votes == won[0].votes


def test_override_reverses_an_automated_outcome_once(desk):
    """A small override decides at once (decline owes a notice); refer, the same outcome, a
    missing note or a second override are refused."""
    desk.decided("D1", outcome="approve")
    desk.decided("D2", outcome="refer")
    with pytest.raises(ReviewRefused, match="is approve already"):
        desk.desk.override("D1", "approve", "VERIFIED_INCOME", "why", "k1")
    with pytest.raises(ReviewRefused, match="referred"):
        desk.desk.override("D2", "decline", "INSUFFICIENT_INCOME", "why", "k1")
    with pytest.raises(InvalidReview):
        desk.desk.override("D1", "decline", "INSUFFICIENT_INCOME", "  ", "k1")
    case = desk.desk.override("D1", "decline", "HIGH_DEBT_BURDEN", "debts found", "k1")
    assert (case.kind, case.outcome, case.automated_outcome) == ("override", "decline", "approve")
    assert desk.store.get_notice("D1").status == "pending"
    rec = logged(desk)[-1]
    assert rec.type == "decision_override" and rec.decision_hash == desk.audit.get_decision("D1").hash
    with pytest.raises(ReviewRefused):
        desk.desk.override("D1", "approve", "VERIFIED_INCOME", "again", "k2")


def test_override_above_the_amount_waits_for_a_second_reviewer(desk):
    desk.decided("D1", outcome="decline", amount=50_000)
    case = desk.desk.override("D1", "approve", "VERIFIED_INCOME", "payslips", "k1")
    assert case.awaiting_second
    with pytest.raises(SameReviewer):
        desk.desk.decide(case.review_id, "approve", "VERIFIED_INCOME", None, "k1")
    done = desk.desk.decide(case.review_id, "approve", "VERIFIED_INCOME", None, "k2")
    assert done.outcome == "approve"
    assert desk.store.get_notice("D1").status == "withdrawn"


def test_contest_is_a_priority_case_the_original_reviewer_may_not_decide(desk):
    """A human decline is contested: the case excludes the reviewer who declined; another
    reviewer approves it and the pending notice is withdrawn."""
    desk.decided("D1")
    desk.desk.decide(referral_id("D1"), "decline", "INSUFFICIENT_INCOME", None, "k1")
    assert desk.store.get_notice("D1").status == "pending"
    case = desk.desk.contest("D1", "My income rose in May; see the new contract.", "app")
    assert (case.kind, case.priority, case.excluded) == ("contest", 1, ("k1",))
    with pytest.raises(ReviewerExcluded):
        desk.desk.decide(case.review_id, "approve", "DATA_CORRECTED", None, "k1")
    with pytest.raises(ReviewRefused, match="under review"):
        desk.desk.contest("D1", "again", "app")
    done = desk.desk.decide(case.review_id, "approve", "DATA_CORRECTED", None, "k2")
    assert done.outcome == "approve"
    assert desk.desk.story(parse_record(desk.audit.get_decision("D1").body)).final_outcome == "approve"
    assert desk.store.get_notice("D1").status == "withdrawn"
    with pytest.raises(ReviewRefused, match="contested already"):
        desk.desk.contest("D1", "once more", "app")


def test_only_a_declined_decision_can_be_contested(desk):
    desk.decided("D1", outcome="approve")
    desk.decided("D2", outcome="refer")
    with pytest.raises(ReviewRefused, match="only a declined"):
        desk.desk.contest("D1", "why?", "app")
    with pytest.raises(ReviewRefused, match="under review"):
        desk.desk.contest("D2", "why?", "app")
    with pytest.raises(ReviewNotFound):
        desk.desk.contest("D9", "why?", "app")


def test_notes_and_statements_are_sealed_with_the_customer_key(desk):
    """Free text never appears in the log in clear; it opens for a reviewer until the
    customer is erased."""
    desk.decided("D1", outcome="decline", customer="cust-42")
    desk.desk.override("D1", "approve", "VERIFIED_INCOME", "called Ana Zzyzx at work", "k1")
    body = b"".join(e.body for e in desk.audit.entries())
    assert b"Zzyzx" not in body
    action = desk.store.actions_for("D1")[0]
    rec = action.parsed()
    assert rec.note.key_ref == "cust-42"
    assert desk.desk.open_text(rec.note, action.action_id) == "called Ana Zzyzx at work"
    assert desk.keys.erase("cust-42")
    assert desk.desk.open_text(rec.note, action.action_id) is None


def test_no_audit_record_no_action(desk, tmp_path):
    """With the log refusing appends nothing changes in the store."""
    desk.decided("D1")

    class Down:
        def __getattr__(self, name):
            return getattr(desk.audit, name)

        def append(self, *a, **kw):
            raise OSError("disk full")

    desk.desk.audit = Down()
    with pytest.raises(AuditUnavailable):
        desk.desk.decide(referral_id("D1"), "approve", "VERIFIED_INCOME", None, "k1")
    assert desk.store.get_case(referral_id("D1")).version == 0


def test_store_failure_after_the_record_is_followed_by_a_failed_record(desk):
    """The store refusing the write: 503-class error, and the log says the action failed."""
    desk.decided("D1")
    store = desk.store

    class Failing:  # our ReviewStore protocol, failing on the write
        def __getattr__(self, name):
            return getattr(store, name)

        def save_case(self, *a, **kw):
            raise OSError("disk I/O error")

    desk.projection.store = Failing()
    with pytest.raises(ReviewStoreUnavailable):
        desk.desk.decide(referral_id("D1"), "approve", "VERIFIED_INCOME", None, "k1")
    *_, action, failed = logged(desk)
    assert failed.type == "review_action_failed" and failed.action_id == action.action_id
    assert failed.error == "OSError"


def test_notice_marked_sent_once_and_audited(desk):
    desk.decided("D1", outcome="decline")
    desk.decided("D2", outcome="approve")
    notice = desk.desk.notice_sent("D1", "letter", "k1")
    assert (notice.status, notice.channel, notice.sent_by) == ("sent", "letter", "k1")
    rec = logged(desk)[-1]
    assert rec.type == "adverse_action_notice_sent" and rec.decision_hash == \
        desk.audit.get_decision("D1").hash
    with pytest.raises(ReviewRefused, match="sent already"):
        desk.desk.notice_sent("D1", "letter", "k1")
    with pytest.raises(ReviewNotFound):
        desk.desk.notice_sent("D2", "letter", "k1")
    assert [n.decision_id for n in desk.store.notices("pending")] == []
    assert orjson.loads(desk.store.actions_for("D1")[0].to_json())["type"] == \
        "adverse_action_notice_sent"
