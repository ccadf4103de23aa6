"""The audit log's records of what people and pipelines did around decisions: feature
flag changes, erasures, model alias changes, human review actions and notices, outcome
batches and policy versions. Decision records are in audit/records.py, which parses every
type (`parse_record`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from audit.parts import Part, Record


class FlagValue(Part):
    mode: Literal["legacy", "shadow", "canary", "full"]
    percent_bp: int
    version: int


class FlagChange(Record):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["flag_change"] = "flag_change"
    schema_version: Literal[1, 2] = 2  # 2: with change_id, which a failure names
    change_id: str | None = None
    country: str
    at: str
    actor: str
    reason: str
    before: FlagValue = Field(alias="from")
    after: FlagValue = Field(alias="to")


class FlagChangeFailed(Record):
    """The change recorded just before did not take effect (conflict, store down)."""

    type: Literal["flag_change_failed"] = "flag_change_failed"
    schema_version: Literal[1, 2] = 2  # 2: names the change_id that failed
    change_id: str | None = None
    country: str
    at: str
    actor: str
    intended_version: int
    error: str


class ErasureRequested(Record):
    """An erasure asked for during a legal retention period: carried out when it is due.
    Names the customer's data key only (a random id), never the customer."""

    type: Literal["erasure_requested"] = "erasure_requested"
    schema_version: Literal[1] = 1
    key_ref: str
    at: str
    due_at: str
    hold_days: int
    actor: str
    reason: str


class Erasure(Record):
    """A customer's data key destroyed and what the stores held for them removed (or, with
    `status: failed`, the attempt that did not complete)."""

    type: Literal["erasure"] = "erasure"
    schema_version: Literal[1] = 1
    key_ref: str | None  # None: nothing was held for that customer
    at: str
    status: Literal["started", "done", "failed"]
    actor: str
    reason: str
    removed: dict[str, int] = Field(default_factory=dict)  # store -> entries removed
    error: str | None = None


class ModelAliasChange(Record):
    """A model registry alias moved: registration, promotion (forced past failed gates or
    not), rollback."""

    type: Literal["model_alias_change"] = "model_alias_change"
    schema_version: Literal[1] = 1
    model: str
    alias: str
    version: str
    previous: str | None
    action: Literal["register", "promote", "rollback", "set"]
    gates: Literal["passed", "failed", "unchecked"]
    forced: bool
    who: str
    why: str
    at: str


# -- human actions on a decision (review/) --------------------------------------------------
# Each is linked to the decision it concerns by the decision's id and the hash of its audit
# entry, and written before it takes effect (review/desk.py). Free text about the applicant
# (a reviewer's note, the applicant's statement) is personal data: it is sealed with the
# customer's data key, like the application's personal fields.

ReviewOutcome = Literal["approve", "decline"]


class SealedText(Part):
    alg: str
    key_ref: str
    nonce: str
    ciphertext: str


class HumanAction(Record):
    action_id: str
    review_id: str
    decision_id: str
    decision_hash: str  # the hash of the decision's audit entry
    country: str
    at: str
    actor: str  # the API key id (never a person's name)


class ReviewDecision(HumanAction):
    """A reviewer's decision on a case at `case_version` (optimistic concurrency: only one
    action per case version takes effect)."""

    type: Literal["review_decision"] = "review_decision"
    schema_version: Literal[1] = 1
    case_version: int
    outcome: ReviewOutcome
    reason_code: str
    reason_codes_version: str
    four_eyes: bool  # whether the case needs two concurring reviewers
    note: SealedText | None = None


class DecisionOverride(HumanAction):
    """A reviewer reverses an automated approve or decline; opens an override case holding
    this first vote (a second reviewer confirms it above the four-eyes amount)."""

    type: Literal["decision_override"] = "decision_override"
    schema_version: Literal[1] = 1
    automated_outcome: ReviewOutcome
    outcome: ReviewOutcome
    reason_code: str
    reason_codes_version: str
    four_eyes: bool
    note: SealedText | None = None


class DecisionContest(HumanAction):
    """The applicant contests the decision (filed by the lending app): opens a priority case
    that the reviewers who decided before may not decide."""

    type: Literal["decision_contest"] = "decision_contest"
    schema_version: Literal[1] = 1
    contested_outcome: ReviewOutcome
    excluded_reviewers: list[str]
    four_eyes: bool
    statement: SealedText


class ReviewActionFailed(Record):
    """The human action recorded just before did not take effect (another action on the
    same case won, or the review store failed)."""

    type: Literal["review_action_failed"] = "review_action_failed"
    schema_version: Literal[1] = 1
    action_id: str
    review_id: str
    country: str
    at: str
    actor: str
    error: str


class NoticeSent(Record):
    """The adverse-action notice of a declined decision was sent to the applicant."""

    type: Literal["adverse_action_notice_sent"] = "adverse_action_notice_sent"
    schema_version: Literal[1] = 1
    action_id: str
    decision_id: str
    decision_hash: str
    country: str
    at: str
    actor: str
    channel: str


# -- outcome ingestion (monitoring/) ------------------------------------------------------

class OutcomeBatch(Record):
    """One batch of loan outcomes as it was received (an API request, or a part of a file),
    so a monitoring figure can be traced back to the data behind it. The outcomes
    themselves are in the outcome store under the same batch id."""

    type: Literal["outcome_batch"] = "outcome_batch"
    schema_version: Literal[1] = 1
    batch_id: str
    at: str
    actor: str
    source: Literal["api", "file"]
    source_name: str | None = None     # the file's name
    source_sha256: str | None = None   # SHA-256 of the whole file
    rows: tuple[int, int] | None = None  # first and last row of the file in this batch
    count: int                          # items received
    content_sha256: str                 # SHA-256 of the items (monitoring.ingest)
    accepted: int
    duplicates: int
    rejected: int


# -- policy versions (strategy/) ------------------------------------------------------------

class PolicyChange(Record):
    """A policy version proposed (its whole text) or approved (it goes live) by `actor`,
    written before the policy history changes; `diff` against `previous`, the version live
    at that moment. Proposer and approver are two different keys (four eyes)."""

    type: Literal["policy_change"] = "policy_change"
    schema_version: Literal[1] = 1
    change_id: str
    action: Literal["propose", "approve"]
    version: str
    sha256: str                 # of the policy document
    previous: str | None        # the live version when this happened
    actor: str
    actor_id: str               # the API key id (or CLI principal) four eyes compares
    reason: str
    at: str
    diff: str                   # unified diff of the documents, previous -> version
    text: str | None = None     # propose: the document itself


class PolicyChangeFailed(Record):
    """The change recorded just before did not take effect (a conflict, the store down)."""

    type: Literal["policy_change_failed"] = "policy_change_failed"
    schema_version: Literal[1] = 1
    change_id: str
    version: str
    at: str
    actor: str
    error: str
