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

from pydantic import BaseModel, Field, TypeAdapter, model_validator

from audit.governance_records import (
    DecisionContest,
    DecisionOverride,
    Erasure,
    ErasureRequested,
    FlagChange,
    FlagChangeFailed,
    ModelAliasChange,
    NoticeSent,
    OutcomeBatch,
    PolicyChange,
    PolicyChangeFailed,
    ReviewActionFailed,
    ReviewDecision,
)
from audit.parts import Part, Record

Outcome = Literal["approve", "decline", "refer"]
Arm = Literal["model", "legacy"]


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
