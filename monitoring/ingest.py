"""Outcome ingestion: validate each reported outcome on its own, refuse the bad and the
unknown ones item by item, store the rest idempotently, and record the batch in the audit
log (source, count, SHA-256 of the content, what was accepted) in the same step.

The batch's audit record is written inside the outcome store's transaction, before it
commits: without a durable audit record nothing of the batch is stored (as with
decisions), and the counts it holds are exactly what the store did.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from audit.governance_records import OutcomeBatch
from audit.record import now_stamp, sha256_hex
from audit.records import to_json
from audit.store import AuditStore, AuditUnavailable
from monitoring.store import AddResult, Batch, Observation, OutcomeStore, OutcomeStoreUnavailable

MAX_ERRORS = 3  # validation errors named per item


class OutcomeIn(BaseModel):
    """One reported outcome (the API's item and a file's row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    decision_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    defaulted: bool
    observed_at: date
    loan_taken: bool | None = None
    months_on_book: int | None = Field(default=None, ge=0, le=600)

    @model_validator(mode="after")
    def _taken_if_defaulted(self) -> OutcomeIn:
        if self.defaulted and self.loan_taken is False:
            raise ValueError("defaulted is true but loan_taken is false")
        return self

    def observation(self) -> Observation:
        return Observation(self.decision_id, self.defaulted, self.observed_at.isoformat(),
                           self.loan_taken, self.months_on_book)


@dataclass(frozen=True)
class Rejection:
    index: int  # the item's position in the request (0-based), or the file's row (1-based)
    error: str


@dataclass(frozen=True)
class IngestResult:
    batch_id: str
    count: int
    accepted: int
    duplicates: int
    rejected: list[Rejection]
    content_sha256: str


def _message(exc: ValidationError) -> str:
    # loc and message only: the offending value is never echoed back.
    parts = [f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}"
             for e in exc.errors()[:MAX_ERRORS]]
    return "; ".join(parts)


def validate(item: Any, strict: bool) -> OutcomeIn:
    """Strict for the JSON API (a boolean is true/false); lax for files, whose cells are
    text ("true", "1", "yes")."""
    if not isinstance(item, dict):
        raise ValueError("an outcome must be a JSON object")
    if strict:
        return OutcomeIn.model_validate_json(orjson.dumps(item), strict=True)
    return OutcomeIn.model_validate(item)


def content_sha256(items: Sequence[Any]) -> str:
    """SHA-256 of the items as JSON with sorted keys and no spaces (any item, even one
    refused, so the hash covers exactly what was received)."""
    text = json.dumps(list(items), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return sha256_hex(text.encode())


def _today() -> date:
    return datetime.now(UTC).date()


class OutcomeIngestor:
    def __init__(self, audit: AuditStore, store: OutcomeStore,
                 today: Callable[[], date] = _today) -> None:
        self.audit = audit
        self.store = store
        self._today = today

    def _check(self, item: Any, strict: bool) -> Observation:
        """The item's observation, or ValueError saying why it is refused."""
        try:
            outcome = validate(item, strict)
        except ValidationError as exc:
            raise ValueError(_message(exc)) from None
        except orjson.JSONEncodeError:
            raise ValueError("a number is out of range") from None
        if outcome.observed_at > self._today() + timedelta(days=1):
            raise ValueError("observed_at: in the future")
        try:
            entry = self.audit.get_decision(outcome.decision_id)
        except Exception as exc:
            raise AuditUnavailable("the audit log could not be read to check the decisions; "
                                   "nothing of the batch was stored") from exc
        if entry is None:
            raise ValueError("decision_id: no such decision in the audit log")
        decided = entry.appended_at[:10]
        if outcome.observed_at.isoformat() < decided:
            raise ValueError(f"observed_at: before the decision (decided {decided})")
        return outcome.observation()

    def ingest(self, items: Sequence[Any], *, source: Literal["api", "file"], actor: str,
               strict: bool, source_name: str | None = None, source_sha256: str | None = None,
               rows: tuple[int, int] | None = None, first_index: int = 0) -> IngestResult:
        """Validate, look up and store one batch; record it in the audit log. Raises
        AuditUnavailable or OutcomeStoreUnavailable when nothing could be stored."""
        observations: list[Observation] = []
        rejected: list[Rejection] = []
        for i, item in enumerate(items):
            try:
                observations.append(self._check(item, strict))
            except ValueError as exc:
                rejected.append(Rejection(first_index + i, str(exc)))
        batch_id, at = uuid.uuid4().hex, now_stamp()
        content = content_sha256(items)

        def record(result: AddResult) -> str:
            try:
                entry = self.audit.append(to_json(OutcomeBatch(
                    batch_id=batch_id, at=at, actor=actor, source=source,
                    source_name=source_name, source_sha256=source_sha256, rows=rows,
                    count=len(items), content_sha256=content, accepted=result.accepted,
                    duplicates=len(result.duplicates), rejected=len(rejected))))
            except Exception as exc:
                raise AuditUnavailable("the audit log could not record this batch of "
                                       "outcomes; nothing of it was stored") from exc
            return f"{entry.chain_id}/{entry.seq}"

        batch = Batch(batch_id, at, source, source_name, content, len(items), len(rejected))
        try:
            result = self.store.add(batch, observations, record)
        except (AuditUnavailable, OutcomeStoreUnavailable):
            raise
        except Exception as exc:
            raise OutcomeStoreUnavailable("the outcome store could not store this batch; "
                                          "nothing of it was stored") from exc
        return IngestResult(batch_id, len(items), result.accepted, len(result.duplicates),
                            rejected, content)
