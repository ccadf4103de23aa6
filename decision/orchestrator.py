"""The decision path for one application, as a list of stages:

    idempotency -> enrichment -> features -> live arm (+ shadow arm) -> record -> audit

Dependencies arrive through the constructor (wired in app/builder.py); nothing here knows
about HTTP routes, settings or which backend stores the audit log.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import structlog
from opentelemetry import trace

from audit.group_commit import GroupCommitter
from audit.pii import DataKey, RecordProtector
from audit.record import Entry, canonical, sha256_hex
from audit.records import (
    AuditRecord,
    DecisionInputs,
    DecisionRecord,
    DecisionResponse,
    ModelRef,
    ShadowSection,
    parse_record,
    to_json,
)
from audit.store import AuditStore, AuditUnavailable, DuplicateApplication
from core import blocking
from decision.application import Application
from decision.arms import ArmOutcome, Case, DecisionArm, LegacyArm, ModelArm
from decision.enrichment import Enricher, Enrichment
from decision.errors import IdempotencyConflict
from decision.metrics import DecisionMetrics
from decision.ratelimit import RateLimiter
from decision.rollout import NO_ROLLOUT, Assignment, Rollout
from decision.sections import decision_response, live_sections, raw_inputs
from feature_store.velocity import RecordArgs, Velocity
from models.features import FEATURE_SET_VERSION, as_dict, feature_row
from models.reloader import ScorerHolder

T = TypeVar("T")
_CONFLICT = ("application_id was already decided with a different request body; "
             "use a new application_id for a changed application")
_log = structlog.get_logger("credit.decisions")


class Counted(NamedTuple):
    counts: dict[str, int]  # the applicant's velocity, this application included
    args: RecordArgs  # what the store call counted (to take it back)


@dataclass(frozen=True)
class Outcome:
    response: dict[str, Any]  # the DecisionResponse as JSON
    created: bool  # False when an earlier identical request's decision is returned


@dataclass(frozen=True)
class Arms:
    model: ModelArm
    legacy: LegacyArm

    def live_and_shadow(self, decided_by: str, shadow: bool) -> tuple[DecisionArm, DecisionArm | None]:
        live, other = (self.model, self.legacy) if decided_by == "model" else (self.legacy, self.model)
        return live, other if shadow else None


def request_hash(body: dict[str, Any]) -> str:
    """Of the application as JSON (`model_dump(mode="json")`)."""
    return sha256_hex(canonical(body))


class Orchestrator:
    def __init__(self, *, scorers: ScorerHolder, enricher: Enricher, arms: Arms,
                 audit: AuditStore, committer: GroupCommitter, protector: RecordProtector,
                 reason_count: int, metrics: DecisionMetrics, limiter: RateLimiter,
                 velocity: Velocity | None = None, rollout: Rollout | None = None,
                 audit_timeout_s: float = 1.5, feature_timeout_s: float = 0.25,
                 listeners: Sequence[Callable[[DecisionRecord, DecisionInputs], None]] = ()
                 ) -> None:
        self.scorers = scorers  # `current` is swapped by the hot reloader (models/reloader.py)
        self.enricher = enricher
        self.arms = arms
        self.audit = audit
        self.committer = committer
        self.protector = protector  # what of the application the audit log may keep
        self.reason_count = reason_count
        self.metrics = metrics
        self.limiter = limiter
        self.velocity = velocity
        self.rollout = rollout  # None: the model decides everything, no shadow arm
        # Deadlines of the store calls (core/blocking.py): the audit path's miss is a 503,
        # the feature store's a degradation.
        self.audit_timeout_s = audit_timeout_s
        self.feature_timeout_s = feature_timeout_s
        # Since when appends have been failing (None: the last one succeeded): /readyz.
        self.audit_failing_since: float | None = None
        # Told of each new decision once its record is durable, with its inputs in clear (the
        # review projector: no need to open the sealed copy); they must not block, and their
        # failures never touch the decision.
        self.listeners = listeners
        # No spans at all unless a tracer provider was configured (app/tracing.py): through
        # OpenTelemetry's proxy and no-op tracers, the nine spans of a decision still cost
        # ~3% of its CPU in profiles (ADR 0142).
        self._tracer: trace.Tracer | None = (
            None if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
            else trace.get_tracer("credit.orchestrator"))
        # application_id -> (request hash, outcome) of decisions in progress in this process
        self._inflight: dict[str, tuple[str, asyncio.Future[Outcome]]] = {}

    async def decide(self, app: Application, language: str = "en") -> Outcome:
        """Single flight per application id: a concurrent duplicate waits for the decision in
        progress instead of racing it (across processes the audit log's unique key decides)."""
        body = app.model_dump(mode="json")
        rhash = request_hash(body)
        running = self._inflight.get(app.application_id)
        if running is not None:
            first_hash, future = running
            outcome = await asyncio.shield(future)
            if first_hash != rhash:
                raise IdempotencyConflict(_CONFLICT)
            return Outcome(outcome.response, False)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)
        self._inflight[app.application_id] = (rhash, future)
        try:
            if self._tracer is None:
                outcome = await self._decide(app, body, rhash, language)
            else:
                with self._tracer.start_as_current_span("decision") as span:
                    span.set_attribute("credit.country", app.country)
                    outcome = await self._decide(app, body, rhash, language)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            del self._inflight[app.application_id]
        future.set_result(outcome)
        return outcome

    async def _decide(self, app: Application, body: dict[str, Any], rhash: str,
                      language: str) -> Outcome:
        t0 = time.perf_counter()
        stage = Stages(self._tracer)
        with stage("idempotency"):
            # Sealing's key-store read rides in the same audit-lane turn as the lookup (one
            # thread job for both; the audit stage then has no hop of its own for it). A
            # replay leaves it unused: the customer's key exists since their first decision.
            key = asyncio.ensure_future(self._audit_call(
                self.protector.data_key, app.applicant.customer_id, app.applicant.national_id))
            key.add_done_callback(_retrieved)
            existing = await self._audit_call(self.audit.get_by_application,
                                              app.application_id)
            if existing is not None:
                return _replayed(parse_record(existing.body), rhash)
            # Replays above are free; each new decision for a customer counts (score probing).
            await self.limiter.customer(app.country, app.applicant.customer_id)
        with stage("enrichment"):
            assignment, enrichment, counted = await self._enrich(app)
        velocity = counted.counts if counted else None
        with stage("features"):
            case = self._case(app, enrichment, velocity)
        live_arm, shadow_arm = self.arms.live_and_shadow(
            assignment.decided_by if assignment else "model", self.rollout is not None)
        pending = self.rollout.start_shadow(shadow_arm, case) if shadow_arm else None  # type: ignore[union-attr]
        with stage("score_explain" if live_arm.name == "model" else "legacy"):
            live = live_arm.evaluate(case, explain=True)
        shadow = None
        if pending is not None:
            with stage("shadow_wait"):
                shadow = await self.rollout.compare(pending, live, app.country)  # type: ignore[union-attr]
        with stage("audit"):
            record, inputs = self._record(app, body, rhash, case, enrichment, assignment,
                                          live, shadow, stage.ms, language, await key)
            document = to_json(record)
            earlier = await self._append(document, app)
        if earlier is not None:  # another worker recorded this application id first
            stored = parse_record(earlier.body)
            if not keeps_count(stored, rhash):
                await self._take_back(counted)
            return _replayed(stored, rhash)  # or 409, if its body was another
        self._notify(record, inputs)
        # The audit stage ends after the record is written: in the metrics, not the record.
        self._observe(record.response, app.country, stage.ms, t0)
        return Outcome(document["response"], True)

    async def _enrich(self, app: Application
                      ) -> tuple[Assignment | None, Enrichment, Counted | None]:
        """The rollout arm, the sources' answers, and velocity's counts with what was
        counted (to take it back: `_take_back`), or None if velocity failed."""
        assignment = (self.rollout.assign(app.country, app.applicant.customer_id)
                      if self.rollout else None)
        velocity_task = asyncio.create_task(self._velocity(app))
        enrichment = await self.enricher.enrich(app)
        counted = await velocity_task
        if counted is None and self.velocity is not None:
            enrichment.degrade("velocity", "store_unavailable")
        return assignment, enrichment, counted

    def _case(self, app: Application, enrichment: Enrichment,
              velocity: dict[str, int] | None) -> Case:
        raw = raw_inputs(app, enrichment)
        x = feature_row(raw)
        return Case(app.country, x, raw, as_dict(x), [d.source for d in enrichment.degraded],
                    velocity, self.scorers.current)  # pinned: one version throughout

    def _record(self, app: Application, body: dict[str, Any], rhash: str, case: Case,
                enrichment: Enrichment, assignment: Assignment | None, live: ArmOutcome,
                shadow: ShadowSection | None, timings: dict[str, float], language: str,
                key: DataKey) -> tuple[DecisionRecord, DecisionInputs]:
        decision_id = uuid.uuid4().hex
        scorer = case.scorer
        if scorer is None:
            raise RuntimeError("no model pinned for this decision")
        inputs = DecisionInputs(raw_inputs=case.raw, features=case.features,
                                velocity=case.velocity,
                                sources={n: a.values for n, a in enrichment.sources.items()})
        application, personal = self.protector.seal_decision(body, inputs, key)
        record = DecisionRecord(
            decision_id=decision_id, application_id=app.application_id, country=app.country,
            decided_at=datetime.now(UTC).isoformat(), request_sha256=rhash,
            application=application, enrichment=enrichment.without_values(), personal=personal,
            feature_set_version=FEATURE_SET_VERSION,
            model=ModelRef(name=scorer.model.name, version=scorer.version,
                           run_id=scorer.model.run_id),
            **live_sections(live, scorer.feature_names),
            flags=assignment.state() if assignment else NO_ROLLOUT, shadow=shadow,
            timings_ms=dict(timings),
            response=decision_response(decision_id, app, live, enrichment,
                                       scorer.feature_names, self.reason_count, language))
        return record, inputs

    async def _append(self, document: dict[str, Any], app: Application) -> Entry | None:
        """Append durably; None when written, or the earlier entry of a duplicate. Past
        the deadline the caller gets 503 even if the record is written later: a retry with
        the same application id then returns that decision."""
        try:
            await asyncio.wait_for(asyncio.shield(self.committer.append(
                document, application_id=app.application_id,
                decision_id=document["decision_id"])), self.audit_timeout_s)
        except DuplicateApplication:
            # A concurrent request with this application id won the race.
            existing = await self._audit_call(self.audit.get_by_application, app.application_id)
            if existing is None:
                raise AuditUnavailable("audit record vanished after a duplicate") from None
            return existing
        except Exception as exc:
            self._audit_failed(exc)
            raise AuditUnavailable("the audit log could not record this decision; "
                                   "no decision was made") from exc
        self.audit_failing_since = None
        return None

    async def _audit_call(self, fn: Callable[..., T], *args: Any) -> T:
        """A call on the audit path (the log, the key store): in a thread with its deadline;
        any failure means no decision (503)."""
        try:
            return await blocking.call(fn, *args, timeout_s=self.audit_timeout_s, lane="audit")
        except Exception as exc:
            self._audit_failed(exc)
            raise AuditUnavailable("the audit log could not be reached; no decision was "
                                   "made") from exc

    def _audit_failed(self, exc: BaseException) -> None:
        # The one log line the audit runbook names, and /readyz turns not-ready.
        self.metrics.audit_failures.inc()
        if self.audit_failing_since is None:
            self.audit_failing_since = time.monotonic()
        _log.error("audit_append_failed", error_type=type(exc).__name__)

    def _notify(self, record: DecisionRecord, inputs: DecisionInputs) -> None:
        for listener in self.listeners:
            try:
                listener(record, inputs)
            except Exception as exc:  # noqa: BLE001 - the decision is made and recorded
                _log.warning("decision_listener_failed", error_type=type(exc).__name__)

    async def _velocity(self, app: Application) -> Counted | None:
        """Count this application and return the applicant's velocity, with the store
        call's arguments; None if the store failed (a degradation, never an error)."""
        if self.velocity is None:
            return None
        try:
            args = self.velocity.record_args(app.applicant.customer_id,
                                             app.applicant.national_id)
            counts = await blocking.call(self.velocity.store.increment_and_sum, *args,
                                         timeout_s=self.feature_timeout_s, lane="features")
        except Exception as exc:
            _log.warning("velocity_unavailable", error_type=type(exc).__name__)
            return None
        return Counted(counts, args)

    async def _take_back(self, counted: Counted | None) -> None:
        """Undo this decision's velocity count. Only after a count known to be made: a call
        that timed out may or may not have counted, and then stays (a possible over-count,
        never an under-count); a take-back past its deadline may still be applied. The
        earlier decision may have seen this count meanwhile: it fixes later ones."""
        if counted is None or self.velocity is None:  # (the second for the type checker)
            return
        try:
            await blocking.call(self.velocity.store.increment_and_count,
                                *self.velocity.take_back_args(counted.args),
                                timeout_s=self.feature_timeout_s, lane="features")
        except Exception as exc:
            _log.warning("velocity_take_back_failed", error_type=type(exc).__name__)

    def _observe(self, response: DecisionResponse, country: str, timings: dict[str, float],
                 t0: float) -> None:
        total = time.perf_counter() - t0
        self.metrics.decisions.labels(response.outcome, country, response.decided_by).inc()
        for stage, ms in timings.items():
            self.metrics.stage_seconds.labels(stage).observe(ms / 1000)
        self.metrics.stage_seconds.labels("total").observe(total)
        # One log line per request: the middleware's access line carries these fields.
        structlog.contextvars.bind_contextvars(
            decision_id=response.decision_id, country=country, outcome=response.outcome,
            decided_by=response.decided_by, model_version=response.model_version,
            degraded=[d.source for d in response.degraded])


def _retrieved(future: asyncio.Future[Any]) -> None:
    """A done callback: its exception counts as retrieved (a replay never awaits the key)."""
    if not future.cancelled():
        future.exception()


def keeps_count(stored: AuditRecord, rhash: str) -> bool:
    """Whether this decision's velocity count stays when another worker recorded its
    application id first: only if that decision, of the same body, had velocity degraded
    (its call may not have counted). Otherwise that decision counted the application, or
    this one, of another body, is refused (409)."""
    return (isinstance(stored, DecisionRecord) and stored.request_sha256 == rhash
            and "velocity" in stored.degraded_sources)


def _replayed(stored: AuditRecord, rhash: str) -> Outcome:
    if not isinstance(stored, DecisionRecord) or stored.request_sha256 != rhash:
        raise IdempotencyConflict(_CONFLICT)
    return Outcome(stored.response.model_dump(mode="json"), False)


class Stages:
    """Times each stage of a decision (for its record and the metrics) and, with a tracer,
    traces it as an OpenTelemetry span."""

    def __init__(self, tracer: trace.Tracer | None) -> None:
        self.ms: dict[str, float] = {}
        self._tracer = tracer

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        if self._tracer is None:
            yield
        else:
            with self._tracer.start_as_current_span(name):
                yield
        self.ms[name] = round((time.perf_counter() - start) * 1000, 3)
