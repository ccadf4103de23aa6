"""The review desk's HTTP bodies, and the queue's paging cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from review.model import Case, rank
from review.reasons import ReasonCodes

# The versioned reason codes are part of the API's contract: the schema enumerates the codes
# valid for each outcome (a static package file, like the OpenAPI document itself).
_CODES = ReasonCodes.load()
ApproveCode = Literal[tuple(c.code for c in _CODES.for_outcome("approve"))]  # type: ignore[valid-type]
DeclineCode = Literal[tuple(c.code for c in _CODES.for_outcome("decline"))]  # type: ignore[valid-type]
# A cursor is the last row's sort key, `<rank>_<opened_at in µs since the epoch>_<review id>`:
# every string of this shape is a position in the queue.
CURSOR = r"^(0|-1)_[0-9]{1,16}_[A-Za-z0-9-]{1,80}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
SlaState = Literal["ok", "due_soon", "breached", "met", "missed"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ApproveIn(_In):
    outcome: Literal["approve"]
    reason_code: ApproveCode = Field(description=f"reason codes {_CODES.version}")
    note: str | None = Field(default=None, max_length=2000)


class DeclineIn(_In):
    outcome: Literal["decline"]
    reason_code: DeclineCode = Field(description=f"reason codes {_CODES.version}")
    note: str | None = Field(default=None, max_length=2000)


# The schema itself says which reason codes go with which outcome.
ReviewDecisionIn = Annotated[ApproveIn | DeclineIn, Field(discriminator="outcome")]


class _OverrideNote(_In):
    note: str = Field(min_length=3, max_length=2000, pattern=r"\S",
                      description="why the automated outcome is reversed")


class OverrideToApprove(_OverrideNote):
    outcome: Literal["approve"] = Field(description="the reverse of the automated outcome")
    reason_code: ApproveCode = Field(description=f"reason codes {_CODES.version}")


class OverrideToDecline(_OverrideNote):
    outcome: Literal["decline"] = Field(description="the reverse of the automated outcome")
    reason_code: DeclineCode = Field(description=f"reason codes {_CODES.version}")


OverrideIn = Annotated[OverrideToApprove | OverrideToDecline, Field(discriminator="outcome")]


class ContestIn(_In):
    statement: str = Field(min_length=1, max_length=4000, pattern=r"\S",
                           description="the applicant's point of view, in their words")


class VoteOut(BaseModel):
    reviewer: str = Field(description="the API key id that decided")
    outcome: Literal["approve", "decline"]
    reason_code: str
    at: str
    action_id: str


class CaseOut(BaseModel):
    review_id: str
    decision_id: str
    kind: Literal["referral", "override", "contest"]
    status: Literal["open", "decided"]
    priority: int = Field(description="1 for contests, 0 otherwise; higher first")
    country: str
    opened_at: str
    due_at: str
    sla: SlaState
    automated_outcome: Literal["approve", "decline", "refer"]
    reasons: list[str] = Field(description="why the case is here (the rules that referred, ...)")
    four_eyes: bool = Field(description="two different reviewers must agree")
    awaiting_second: bool
    excluded_reviewers: list[str]
    votes: list[VoteOut]
    outcome: Literal["approve", "decline"] | None
    decided_at: str | None
    version: int


class CaseDetailOut(CaseOut):
    notes: dict[str, str | None] = Field(description="action id -> the reviewer's note")
    statement: str | None = Field(description="a contest's statement by the applicant")


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None


def sla_state(case: Case, at: str) -> SlaState:
    if case.decided_at is not None:
        return "met" if case.decided_at <= case.due_at else "missed"
    if at > case.due_at:
        return "breached"
    opened, due, now = (datetime.fromisoformat(t) for t in (case.opened_at, case.due_at, at))
    return "due_soon" if (due - now) < (due - opened) / 4 else "ok"


def case_out(case: Case, at: str) -> CaseOut:
    return CaseOut(
        review_id=case.review_id, decision_id=case.decision_id, kind=case.kind,
        status=case.status, priority=case.priority, country=case.country,  # type: ignore[arg-type]
        opened_at=case.opened_at, due_at=case.due_at, sla=sla_state(case, at),
        automated_outcome=case.automated_outcome, reasons=list(case.reasons),  # type: ignore[arg-type]
        four_eyes=case.four_eyes, awaiting_second=case.awaiting_second,
        excluded_reviewers=list(case.excluded),
        votes=[VoteOut(reviewer=v.actor, outcome=v.outcome, reason_code=v.reason_code,  # type: ignore[arg-type]
                       at=v.at, action_id=v.action_id) for v in case.votes],
        outcome=case.outcome, decided_at=case.decided_at, version=case.version)  # type: ignore[arg-type]


def cursor_of(case: Case) -> str:
    us = (datetime.fromisoformat(case.opened_at) - _EPOCH) // _US
    return f"{rank(case)}_{us}_{case.review_id}"


def parse_cursor(cursor: str) -> tuple[int, str, str]:
    r, us, review_id = cursor.split("_", 2)
    opened = _EPOCH + int(us) * _US  # at most 16 digits: before the year 2287
    return int(r), opened.isoformat(timespec="microseconds"), review_id
