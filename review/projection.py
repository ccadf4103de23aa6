"""The review store as a projection of the audit log: one function per record type, used
alike by the live path (after a decision, after a human action) and by the catch-up from the
log. Applying a record twice changes nothing, so both may see the same record.

    refer decision      -> a referral case (its review id follows from the decision id)
    decline decision    -> an adverse-action notice, due in `notice_days`
    review_decision     -> a vote on the case at its recorded version (compare-and-set)
    decision_override   -> an override case holding the overrider's vote
    decision_contest    -> a priority contest case
    notice sent         -> the notice marked sent
A case that ends in decline owes a notice; one that ends in approve withdraws a pending one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from audit.governance_records import DecisionContest, DecisionOverride, NoticeSent, ReviewDecision
from audit.record import Entry
from audit.records import DecisionInputs, DecisionRecord
from review.errors import CaseConflict, ReviewNotFound, ReviewStoreUnavailable
from review.model import Action, Case, Notice, ReviewRules, Vote, utc
from review.store import ReviewStore

HumanRecord = ReviewDecision | DecisionOverride | DecisionContest | NoticeSent
Inputs = Callable[[DecisionRecord], DecisionInputs | None]


def referral_id(decision_id: str) -> str:
    """A referral's review id: the same in every process and every replay of the log."""
    return f"ref-{decision_id}"


def referral_reasons(record: DecisionRecord) -> tuple[str, ...]:
    """Why the decision referred: the policy rules that referred it, or for the legacy
    scorecard its degraded sources or its refer band."""
    if record.policy is not None:
        return tuple(f.rule for f in record.policy.fired if f.effect == "refer")
    degraded = tuple(f"{d.source}_degraded" for d in record.response.degraded)
    return degraded or ("scorecard_refer_band",)


def final_outcome(automated: str, cases: list[Case]) -> str | None:
    """The decision's outcome now: the last decided case's, else the automated one (None
    while a referral waits for its reviewer)."""
    decided = [c for c in cases if c.outcome is not None]
    if decided:
        return max(decided, key=lambda c: c.decided_at or "").outcome
    return None if automated == "refer" else automated


def amount_of(record: DecisionRecord, inputs: Inputs) -> float | None:
    """The loan amount, read through the personal-inputs seam (None once erased)."""
    found = inputs(record)
    return None if found is None else found.raw_inputs.get("amount")


class Projection:
    def __init__(self, store: ReviewStore, rules: ReviewRules, inputs: Inputs) -> None:
        self.store = store
        self.rules = rules
        self.inputs = inputs

    # -- automated decisions -------------------------------------------------------------

    def decision(self, record: DecisionRecord) -> None:
        """One decision found in the log. Looked up first: a record seen again (every
        catch-up pass re-reads the last minute) costs a read, not a write transaction or
        opening its personal inputs."""
        outcome, store = record.response.outcome, self.store
        if outcome == "refer" and store.get_case(referral_id(record.decision_id)) is None:
            store.open_case(self.referral(record))
        elif outcome == "decline" and store.get_notice(record.decision_id) is None:
            store.put_notice(self._notice(record.decision_id, record.country,
                                          utc(record.decided_at)))

    def decisions(self, fresh: Sequence[tuple[DecisionRecord, DecisionInputs | None]]) -> int:
        """Decisions just written (live), with their inputs in clear when given: their
        referral cases and decline notices in one write, each inserted if absent (a fresh
        one is almost never there; a catch-up pass may have raced it)."""
        cases = [self.referral(r, i) for r, i in fresh if r.response.outcome == "refer"]
        notices = [self._notice(r.decision_id, r.country, utc(r.decided_at))
                   for r, _ in fresh if r.response.outcome == "decline"]
        return self.store.open_referrals(cases, notices)

    def projected(self, decision_ids: Sequence[str]) -> set[str]:
        """Those of these decisions whose referral case or decline notice is in the store
        already: two reads for a whole batch."""
        by_review = {referral_id(d): d for d in decision_ids}
        done = {by_review[r] for r in self.store.cases_present(list(by_review))}
        return done | self.store.notices_present([d for d in decision_ids if d not in done])

    def referral(self, record: DecisionRecord, inputs: DecisionInputs | None = None) -> Case:
        """The record's referral case; `inputs` given (live) spare opening its sealed copy."""
        opened = utc(record.decided_at)
        amount = (inputs.raw_inputs.get("amount") if inputs is not None
                  else amount_of(record, self.inputs))
        return Case(review_id=referral_id(record.decision_id), decision_id=record.decision_id,
                    kind="referral", country=record.country, opened_at=opened,
                    due_at=self.rules.due(opened, record.country), automated_outcome="refer",
                    four_eyes=self.rules.needs_four_eyes(amount, record.country),
                    reasons=referral_reasons(record))

    # -- human actions -------------------------------------------------------------------

    def action(self, record: HumanRecord, entry: Entry) -> Case | Notice:
        """Apply one human action; CaseConflict when another action took the case first,
        ReviewNotFound when its case (or notice) is not in the store (yet)."""
        action = Action(action_id=record.action_id, decision_id=record.decision_id,
                        review_id=getattr(record, "review_id", ""), type=record.type,
                        actor=record.actor, country=record.country, at=record.at,
                        chain_id=entry.chain_id, seq=entry.seq, entry_hash=entry.hash,
                        record=record.model_dump(mode="json", by_alias=True,
                                                 exclude_unset=True))
        match record:
            case ReviewDecision():
                return self._vote(record, action)
            case DecisionOverride():
                case = self._new_case(record, "override", record.automated_outcome,
                                      (f"override: {record.reason_code}",))
                return self._open(case.with_vote(_vote(record)), action)
            case DecisionContest():
                case = self._new_case(record, "contest", record.contested_outcome,
                                      ("contested by the applicant",),
                                      tuple(record.excluded_reviewers))
                return self._open(case, action)
            case NoticeSent():
                notice = self.store.get_notice(record.decision_id)
                if notice is None:
                    raise ReviewNotFound(f"no adverse-action notice for {record.decision_id}")
                self.store.add_action(action)
                sent = replace(notice, status="sent", sent_at=record.at, sent_by=record.actor,
                               channel=record.channel)
                self.store.set_notice(sent)
                return sent
        raise TypeError(f"not a human action: {type(record).__name__}")

    def _vote(self, record: ReviewDecision, action: Action) -> Case:
        case = self.store.get_case(record.review_id)
        if case is None:
            raise ReviewNotFound(f"no review case {record.review_id}")
        if self.store.has_action(record.action_id):
            return case
        if case.version != record.case_version:
            raise CaseConflict(f"case {case.review_id} changed meanwhile (now at version "
                               f"{case.version}, the action was for {record.case_version})")
        voted = case.with_vote(_vote(record))
        if self.store.save_case(voted, record.case_version, action):
            self._settled(voted)
        return voted

    def _new_case(self, record: DecisionOverride | DecisionContest, kind: str, automated: str,
                  reasons: tuple[str, ...], excluded: tuple[str, ...] = ()) -> Case:
        return Case(review_id=record.review_id, decision_id=record.decision_id, kind=kind,  # type: ignore[arg-type]
                    country=record.country, opened_at=record.at,
                    due_at=self.rules.due(record.at, record.country),
                    automated_outcome=automated, four_eyes=record.four_eyes, reasons=reasons,
                    excluded=excluded)

    def _open(self, case: Case, action: Action) -> Case:
        if self.store.open_case(case, action):
            self._settled(case)
            return case
        stored = self.store.get_case(case.review_id)
        if stored is None:  # open_case said it exists: the store is not answering coherently
            raise ReviewStoreUnavailable(f"case {case.review_id} vanished after it was opened")
        return stored

    def _settled(self, case: Case) -> None:
        """A decided case: a decline owes the applicant a notice; an approval withdraws a
        notice not sent yet."""
        if case.outcome == "decline":
            self.store.put_notice(self._notice(case.decision_id, case.country,
                                               case.decided_at or case.opened_at))
        elif case.outcome == "approve":
            notice = self.store.get_notice(case.decision_id)
            if notice is not None and notice.status == "pending":
                self.store.set_notice(replace(notice, status="withdrawn"))

    def _notice(self, decision_id: str, country: str, declined_at: str) -> Notice:
        return Notice(decision_id=decision_id, country=country, declined_at=declined_at,
                      due_at=self.rules.notice_due(declined_at))


def _vote(record: ReviewDecision | DecisionOverride) -> Vote:
    return Vote(action_id=record.action_id, actor=record.actor, outcome=record.outcome,
                reason_code=record.reason_code, at=record.at)


