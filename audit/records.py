"""What the audit log holds: one typed, versioned model per record type.

The orchestrator and the governance paths build these; every reader (replay, search,
concordance, export, console, monitoring, ...) parses them with `parse_record` instead of
reading dicts by key. A record's bytes in the log are the canonical JSON of its
`model_dump(mode="json", by_alias=True)`; `schema_version` says which shape they have.

Decision record versions:
  1  the first typed shape; records written before the types existed parse as version 1.
     The applicant's fields are sealed; raw inputs, features, velocity and each source's
     values are in clear.
  2  everything personal is sealed under the customer's data key in `personal`: the
     applicant (national id pseudonym included), the loan, and the decision's inputs (raw
     inputs, features, velocity, each source's values). The application keeps only its id,
     country, consent and the random `key_ref`; sources keep status, hash and timing. Once
     the customer is erased nothing readable links the record to them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

Outcome = Literal["approve", "decline", "refer"]
Arm = Literal["model", "legacy"]


class Part(BaseModel):
    # Strict about names (a typo is an error, not a silently ignored field), lax about
    # numbers (3 in canonical JSON is the float 3.0 that was written). No NaN or infinity:
    # JSON cannot hold them, so a record with one would not say what the model saw.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Record(Part):
    """A whole record: its `type` and `schema_version` are always written, even when left
    at their defaults by the code that built it."""

    def model_post_init(self, _context: Any) -> None:
        self.__pydantic_fields_set__.update(("type", "schema_version"))


# -- the decision's public response ---------------------------------------------------------

class Reason(Part):
    code: str
    feature: str
    text: str
    contribution: float


class Degradation(Part):
    source: str
    reason: str
    code: str


class DecisionResponse(Part):
    """What the caller got; replays of the same request get exactly this back."""

    decision_id: str
    application_id: str
    outcome: Outcome
    probability_of_default: float | None
    grade: str | None
    decided_by: Arm
    model_version: str | None
    reasons: list[Reason]
    degraded: list[Degradation]


# -- sections of a decision record ----------------------------------------------------------

class CacheHit(Part):
    hit: bool
    fetched_at: str


class SourceAnswer(Part):
    """One enrichment source: its validated values and the hash of its raw answer, or why
    it could not be used."""

    status: Literal["ok", "degraded"]
    values: dict[str, Any] | None = None
    raw_sha256: str | None = None
    latency_ms: float | None = None
    cache: CacheHit | None = None
    reason: str | None = None


class ModelRef(Part):
    name: str
    version: str
    run_id: str


class ScoreSection(Part):
    probability_of_default: float
    log_odds: float


class Explanation(Part):
    """Calibrated log-odds: base_value + sum(contributions) = logit(probability)."""

    base_value: float
    contributions: dict[str, float]


class FiredRule(Part):
    rule: str
    effect: Literal["refer", "decline"]
    detail: str


class PolicySection(Part):
    version: str
    outcome: Outcome
    grade: str | None
    fired: list[FiredRule]


class ArmResult(Part):
    """One arm's verdict (the legacy arm when it decided, or the shadow arm's result)."""

    arm: Arm
    outcome: Outcome
    version: str
    points: float | None = None
    probability_of_default: float | None = None
    grade: str | None = None
    knock_outs: list[str] = Field(default_factory=list)
    shortfalls: dict[str, float] | None = None


class FlagState(Part):
    """The country's rollout flag and the customer's sticky bucket when this was decided."""

    mode: Literal["legacy", "shadow", "canary", "full"]
    decided_by: Arm
    country: str | None = None
    percent_bp: int | None = None
    flag_version: int | None = None
    bucket: int | None = None


class Comparison(Part):
    legacy_outcome: Outcome
    model_outcome: Outcome
    legacy_points: float | None
    model_probability: float | None
    agree: bool


class ShadowSection(Part):
    arm: Arm
    status: Literal["ok", "error", "timeout", "busy"]
    error: str | None
    elapsed_ms: float
    result: ArmResult | None
    comparison: Comparison | None


class Sealed(Part):
    """AES-256-GCM under the data key `key_ref` names (audit.pii)."""

    alg: Literal["A256GCM"]
    key_ref: str
    nonce: str
    ciphertext: str


class DecisionRecord(Record):
    type: Literal["decision"] = "decision"
    schema_version: Literal[1, 2] = 2
    decision_id: str
    application_id: str
    country: str
    decided_at: str
    request_sha256: str
    application: dict[str, Any]  # schema 2: id, country, consent, key_ref; 1: applicant sealed
    enrichment: dict[str, SourceAnswer]  # schema 2: without the values (in `personal`)
    personal: Sealed | None = None  # schema 2: PersonalData, sealed
    velocity: dict[str, int] | None = None  # schema 1 only
    raw_inputs: dict[str, Any] | None = None  # schema 1 only
    feature_set_version: str
    features: dict[str, float | None] | None = None  # schema 1 only
    model: ModelRef
    score: ScoreSection | None
    explanation: Explanation | None
    policy: PolicySection | None
    legacy: ArmResult | None = None  # model decisions of schema 1 leave it out
    flags: FlagState
    shadow: ShadowSection | None
    timings_ms: dict[str, float]
    response: DecisionResponse

    @model_validator(mode="after")
    def _shape_of_its_version(self) -> DecisionRecord:
        if self.schema_version == 1 and (self.raw_inputs is None or self.features is None):
            raise ValueError("a schema-1 decision record holds raw_inputs and features")
        if self.schema_version == 2 and (self.personal is None or self.raw_inputs is not None
                                         or self.features is not None):
            raise ValueError("a schema-2 decision record holds its inputs sealed in personal")
        return self

    @property
    def degraded_sources(self) -> list[str]:
        return [d.source for d in self.response.degraded]

    @property
    def key_ref(self) -> str | None:
        """The customer's data key (None for a record of no customer)."""
        if self.personal is not None:
            return self.personal.key_ref
        # Schema 1 named the key after the customer's reference, beside the sealed fields.
        applicant = self.application.get("applicant") or {}
        return (applicant.get("personal") or {}).get("key_ref") or applicant.get("customer_ref")


class DecisionInputs(Part):
    """What a decision saw about the person: the raw inputs the feature function took, the
    features, the velocity counts and each source's values (None when it was degraded).
    Personal data: read it through `audit.pii.RecordReader.inputs`, which opens it for
    records that keep it sealed."""

    raw_inputs: dict[str, Any]
    features: dict[str, float | None]
    velocity: dict[str, int] | None
    sources: dict[str, dict[str, Any] | None]


class PersonalData(Part):
    """A decision's personal data, as `DecisionRecord.personal` seals it (schema 2)."""

    applicant: dict[str, Any]  # the application's applicant, national id as its pseudonym
    loan: dict[str, Any]
    inputs: DecisionInputs


# -- governance records ---------------------------------------------------------------------

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


AuditRecord = Annotated[DecisionRecord | FlagChange | FlagChangeFailed | ErasureRequested
                        | Erasure | ModelAliasChange | ReviewDecision | DecisionOverride
                        | DecisionContest | ReviewActionFailed | NoticeSent | OutcomeBatch
                        | PolicyChange | PolicyChangeFailed,
                        Field(discriminator="type")]
_RECORD: TypeAdapter[AuditRecord] = TypeAdapter(AuditRecord)


def parse_record(body: bytes | str) -> AuditRecord:
    """The typed record of an entry's body (raises pydantic.ValidationError if malformed)."""
    return _RECORD.validate_json(body)


def to_json(record: BaseModel) -> dict[str, Any]:
    """The JSON document of a record, as it is written to the log. Fields never set (absent
    from a parsed record, not passed when built) stay out, so a parsed record dumps back to
    exactly the document it was read from."""
    return record.model_dump(mode="json", by_alias=True, exclude_unset=True)
