"""The review desk: what people do with decisions. Each action is validated, written to the
audit log as a typed record linked to the decision (its id and the hash of its entry), and
only then applied to the review store by compare-and-set (as feature_flags/admin.py does for
flags). No audit record, no action (AuditUnavailable). If applying fails (another action on
the same case won, the store is down), a `review_action_failed` record follows, so the log
never claims an action that did not take effect.

Blocking calls throughout: the routes run these in a thread.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

from audit.governance_records import (
    DecisionContest,
    DecisionOverride,
    NoticeSent,
    ReviewActionFailed,
    ReviewDecision,
    SealedText,
)
from audit.record import Entry
from audit.records import DecisionRecord, parse_record, to_json
from audit.store import AuditStore, AuditUnavailable
from review.errors import (
    InvalidReview,
    ReviewError,
    ReviewNotFound,
    ReviewRefused,
    ReviewStoreUnavailable,
)
from review.model import Action, Case, Notice, Vote, now
from review.projection import HumanRecord, Projection, amount_of, final_outcome
from review.reasons import ReasonCodes
from review.sealing import Sealer


@dataclass(frozen=True)
class Story:
    """A decision's outcome now and the human actions that made it so."""

    automated_outcome: str
    final_outcome: str | None
    cases: list[Case]
    actions: list[Action]


class ReviewDesk:
    def __init__(self, projection: Projection, audit: AuditStore, reasons: ReasonCodes,
                 sealer: Sealer) -> None:
        self.projection = projection
        self.store = projection.store
        self.rules = projection.rules
        self.audit = audit
        self.reasons = reasons
        self.sealer = sealer

    # -- reading -------------------------------------------------------------------------

    def case(self, review_id: str) -> Case:
        case = self.store.get_case(review_id)
        if case is None:
            raise ReviewNotFound("no review case with that id")
        return case

    def decision(self, decision_id: str) -> tuple[Entry, DecisionRecord]:
        try:
            entry = self.audit.get_decision(decision_id)
        except Exception as exc:
            raise AuditUnavailable("the audit log could not be read") from exc
        if entry is None:
            raise ReviewNotFound("no decision with that id")
        record = parse_record(entry.body)
        if not isinstance(record, DecisionRecord):  # an index pointing at another record
            raise ReviewNotFound("no decision with that id")
        return entry, record

    def story(self, record: DecisionRecord) -> Story:
        cases = self.store.cases_for(record.decision_id)
        automated = record.response.outcome
        return Story(automated, final_outcome(automated, cases), cases,
                     self.store.actions_for(record.decision_id))

    def open_text(self, sealed: SealedText | None, action_id: str) -> str | None:
        return None if sealed is None else self.sealer.open(sealed, action_id)

    # -- acting --------------------------------------------------------------------------

    def decide(self, review_id: str, outcome: str, reason_code: str, note: str | None,
               actor: str) -> Case:
        """A reviewer's decision on a case (one of two above the four-eyes amount)."""
        case = self.case(review_id)
        code = self.reasons.check(reason_code, outcome)
        at = now()
        case.with_vote(Vote("", actor, outcome, code.code, at))  # refuses before recording
        entry, record = self.decision(case.decision_id)
        action_id = uuid.uuid4().hex
        return self._record_then_apply(ReviewDecision(
            action_id=action_id, review_id=review_id, decision_id=record.decision_id,
            decision_hash=entry.hash, country=record.country, at=at, actor=actor,
            case_version=case.version, outcome=outcome, reason_code=code.code,  # type: ignore[arg-type]
            reason_codes_version=self.reasons.version, four_eyes=case.four_eyes,
            note=self._seal(record, note, action_id)))

    def override(self, decision_id: str, outcome: str, reason_code: str, note: str,
                 actor: str) -> Case:
        """Reverse an automated approve or decline; above the four-eyes amount a second
        reviewer confirms it through the override case."""
        entry, record = self.decision(decision_id)
        automated = record.response.outcome
        if automated == "refer":
            raise ReviewRefused("a referred decision is decided through its review case, "
                                "not overridden")
        if outcome == automated:
            raise ReviewRefused(f"an override reverses the automated outcome, and this "
                                f"decision's outcome is {automated} already")
        if not note.strip():
            raise InvalidReview("an override needs a note saying why")
        if self.store.cases_for(decision_id):
            raise ReviewRefused("a person has already reviewed, overridden or contested this "
                                "decision; an override reverses an automated outcome only")
        code = self.reasons.check(reason_code, outcome)
        action_id = uuid.uuid4().hex
        return self._record_then_apply(DecisionOverride(
            action_id=action_id, review_id=f"ovr-{uuid.uuid4().hex}", decision_id=decision_id,
            decision_hash=entry.hash, country=record.country, at=now(), actor=actor,
            automated_outcome=automated, outcome=outcome, reason_code=code.code,  # type: ignore[arg-type]
            reason_codes_version=self.reasons.version,
            four_eyes=self._four_eyes(record), note=self._seal(record, note, action_id)))

    def contest(self, decision_id: str, statement: str, actor: str) -> Case:
        """The applicant contests a declined decision: a priority case for a reviewer who has
        not decided this decision before."""
        if not statement.strip():
            raise InvalidReview("a contest needs the applicant's statement")
        entry, record = self.decision(decision_id)
        cases = self.store.cases_for(decision_id)
        if any(c.outcome is None for c in cases):
            raise ReviewRefused("this decision is under review already")
        if any(c.kind == "contest" for c in cases):
            raise ReviewRefused("this decision was contested already; its contest was decided "
                                "by a reviewer")
        final = final_outcome(record.response.outcome, cases)
        if final != "decline":
            raise ReviewRefused(f"only a declined decision can be contested (this one is "
                                f"{final or 'waiting for review'})")
        action_id = uuid.uuid4().hex
        return self._record_then_apply(DecisionContest(
            action_id=action_id, review_id=f"con-{uuid.uuid4().hex}", decision_id=decision_id,
            decision_hash=entry.hash, country=record.country, at=now(), actor=actor,
            contested_outcome="decline",
            excluded_reviewers=sorted({v.actor for c in cases for v in c.votes}),
            four_eyes=self._four_eyes(record),
            statement=self.sealer.seal(record, statement, action_id)))

    def notice_sent(self, decision_id: str, channel: str, actor: str) -> Notice:
        """Record that the adverse-action notice of a declined decision went out."""
        notice = self.store.get_notice(decision_id)
        if notice is None:
            raise ReviewNotFound("no adverse-action notice for that decision (it is not a "
                                 "final decline)")
        if notice.status != "pending":
            raise ReviewRefused(f"the notice is {notice.status} already")
        entry, record = self.decision(decision_id)
        return self._record_then_apply(NoticeSent(  # type: ignore[return-value]
            action_id=uuid.uuid4().hex, decision_id=decision_id, decision_hash=entry.hash,
            country=record.country, at=now(), actor=actor, channel=channel))

    # -- plumbing ------------------------------------------------------------------------

    def _four_eyes(self, record: DecisionRecord) -> bool:
        return self.rules.needs_four_eyes(amount_of(record, self.projection.inputs),
                                          record.country)

    def _seal(self, record: DecisionRecord, text: str | None, aad: str) -> SealedText | None:
        return self.sealer.seal(record, text, aad) if text and text.strip() else None

    def _record_then_apply(self, record: HumanRecord) -> Any:
        try:
            entry = self.audit.append(to_json(record))
        except Exception as exc:
            raise AuditUnavailable("the audit log could not record this action; nothing was "
                                   "changed") from exc
        try:
            return self.projection.action(record, entry)
        except Exception as exc:
            self._failed(record, exc)
            if isinstance(exc, ReviewError):
                raise
            raise ReviewStoreUnavailable("the review store could not be written; the action "
                                         "did not take effect") from exc

    def _failed(self, record: HumanRecord, exc: Exception) -> None:
        # If even this fails, the caller's error is the one to report; with no failure record
        # the catch-up treats the action as a crash orphan: it takes effect later if its case
        # still allows it (docs/decisions/0110).
        with contextlib.suppress(Exception):
            self.audit.append(to_json(ReviewActionFailed(
                action_id=record.action_id, review_id=getattr(record, "review_id", ""),
                country=record.country, at=now(), actor=record.actor,
                error=type(exc).__name__)))
