"""What the audit log holds: one typed, versioned model per record type.

The orchestrator and the governance paths build these; every reader (replay, search,
concordance, export, console, monitoring, ...) parses them with `parse_record` instead of
reading dicts by key. A record's bytes in the log are the canonical JSON of its
`model_dump(mode="json", by_alias=True)`; `schema_version` says which shape they have.

Decision record versions:
  1  the first typed shape; records written before the types existed parse as version 1.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Outcome = Literal["approve", "decline", "refer"]
Arm = Literal["model", "legacy"]


class Part(BaseModel):
    # Strict about names (a typo is an error, not a silently ignored field), lax about
    # numbers (3 in canonical JSON is the float 3.0 that was written).
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class DecisionRecord(Record):
    type: Literal["decision"] = "decision"
    schema_version: Literal[1] = 1
    decision_id: str
    application_id: str
    country: str
    decided_at: str
    request_sha256: str
    application: dict[str, Any]  # as audit.pii keeps it: pseudonymized and sealed
    enrichment: dict[str, SourceAnswer]
    velocity: dict[str, int] | None
    raw_inputs: dict[str, Any]
    feature_set_version: str
    features: dict[str, float | None]
    model: ModelRef
    score: ScoreSection | None
    explanation: Explanation | None
    policy: PolicySection | None
    legacy: ArmResult | None = None  # model decisions of schema 1 leave it out
    flags: FlagState
    shadow: ShadowSection | None
    timings_ms: dict[str, float]
    response: DecisionResponse

    @property
    def degraded_sources(self) -> list[str]:
        return [d.source for d in self.response.degraded]


class DecisionInputs(Part):
    """What a decision saw about the person: the raw inputs the feature function took, the
    features, the velocity counts and each source's values (None when it was degraded).
    Personal data: read it through `audit.pii.RecordReader.inputs`, which opens it for
    records that keep it sealed."""

    raw_inputs: dict[str, Any]
    features: dict[str, float | None]
    velocity: dict[str, int] | None
    sources: dict[str, dict[str, Any] | None]


# -- governance records ---------------------------------------------------------------------

class FlagValue(Part):
    mode: Literal["legacy", "shadow", "canary", "full"]
    percent_bp: int
    version: int


class FlagChange(Record):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["flag_change"] = "flag_change"
    schema_version: Literal[1] = 1
    country: str
    at: str
    actor: str
    reason: str
    before: FlagValue = Field(alias="from")
    after: FlagValue = Field(alias="to")


class FlagChangeFailed(Record):
    """The change recorded just before did not take effect (conflict, store down)."""

    type: Literal["flag_change_failed"] = "flag_change_failed"
    schema_version: Literal[1] = 1
    country: str
    at: str
    actor: str
    intended_version: int
    error: str


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


AuditRecord = Annotated[DecisionRecord | FlagChange | FlagChangeFailed | OutcomeBatch,
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
