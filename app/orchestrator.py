"""The decision path for one application: enrich -> features -> score+explain -> rules -> audit.

Dependencies arrive through the constructor (wired in app/bootstrap.py); nothing here knows
about HTTP routes, settings files or which backend stores the audit log.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from opentelemetry import trace

from app import blocking
from app.enrichment import Enricher, Enrichment
from app.errors import AuditUnavailable, IdempotencyConflict
from app.feature_store.velocity import Velocity
from app.metrics import DecisionMetrics
from app.policy import Policy
from app.ratelimit import RateLimiter
from app.schemas import Application
from audit.group_commit import GroupCommitter
from audit.pii import Protector
from audit.record import Entry, canonical, sha256_hex
from audit.store import AuditStore, DuplicateApplication
from models.features import FEATURE_SET_VERSION, as_dict, feature_row
from models.reasons import reasons_for, top_reasons
from models.reloader import ScorerHolder
from models.scorer import Scorer
from shadow.arms import ArmOutcome, Case
from shadow.rollout import Rollout

RECORD_SCHEMA_VERSION = 1
_CONFLICT = ("application_id was already decided with a different request body; "
             "use a new application_id for a changed application")
_log = structlog.get_logger("credit.decisions")


@dataclass(frozen=True)
class Outcome:
    response: dict[str, Any]
    created: bool  # False when an earlier identical request's decision is returned


def request_hash(app: Application) -> str:
    return sha256_hex(canonical(app.model_dump(mode="json")))



class Orchestrator:
    def __init__(self, *, scorer: Scorer | ScorerHolder, enricher: Enricher, policy: Policy,
                 audit: AuditStore, committer: GroupCommitter, protector: Protector,
                 reason_count: int, metrics: DecisionMetrics, limiter: RateLimiter,
                 velocity: Velocity | None = None, rollout: Rollout | None = None) -> None:
        # A holder whose `current` Scorer can be swapped by the hot reloader (models/reloader.py).
        self.scorers = scorer if isinstance(scorer, ScorerHolder) else ScorerHolder(scorer)
        self.enricher = enricher
        self.policy = policy
        self.audit = audit
        self.committer = committer
        self.protector = protector  # what of the application the audit log may keep
        self.reason_count = reason_count
        self.metrics = metrics
        self.limiter = limiter
        self.velocity = velocity
        self.rollout = rollout  # None: the model decides everything, no shadow arm
        # OpenTelemetry's no-op tracer unless app/tracing.py configured one (~1 µs a span).
        self._tracer = trace.get_tracer("credit.orchestrator")
        # application_id -> (request hash, outcome) of decisions in progress in this process
        self._inflight: dict[str, tuple[str, asyncio.Future[Outcome]]] = {}

    @property
    def scorer(self) -> Scorer:
        """The Scorer new decisions use now."""
        return self.scorers.current

    async def decide(self, app: Application, language: str = "en") -> Outcome:
        """Single flight per application id: a concurrent duplicate waits for the decision in
        progress instead of racing it (across processes the audit log's unique key decides)."""
        rhash = request_hash(app)
        running = self._inflight.get(app.application_id)
        if running is not None:
            first_hash, future = running
            outcome = await asyncio.shield(future)
            if first_hash != rhash:
                raise IdempotencyConflict(_CONFLICT)
            return Outcome(outcome.response, False)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "unretrieved"
        self._inflight[app.application_id] = (rhash, future)
        try:
            outcome = await self._decide(app, rhash, language)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            del self._inflight[app.application_id]
        future.set_result(outcome)
        return outcome

    async def _decide(self, app: Application, rhash: str, language: str) -> Outcome:
        with self._tracer.start_as_current_span("decision") as span:
            span.set_attribute("credit.country", app.country)
            return await self._decide_traced(app, rhash, language)

    async def _decide_traced(self, app: Application, rhash: str, language: str) -> Outcome:
        t0 = time.perf_counter()
        stage = Stages(self._tracer)
        with stage("idempotency"):
            existing = await blocking.call(self.audit, self.audit.get_by_application,
                                           app.application_id)
            if existing is not None:
                return self._replayed(existing, rhash)
            # Replays above are free; each new decision for a customer counts (score probing).
            self.limiter.customer(app.country, app.applicant.customer_id)

        with stage("enrichment"):
            assignment = (self.rollout.assign(app.country, app.applicant.customer_id)
                          if self.rollout else None)
            decided_by = assignment.decided_by if assignment else "model"
            velocity_task = asyncio.create_task(self._velocity(app))
            enrichment = await self.enricher.enrich(app)
            velocity = await velocity_task
            if velocity is None and self.velocity is not None:
                enrichment.degraded.append({"source": "velocity", "reason": "store_unavailable",
                                            "code": "velocity_unavailable"})

        with stage("features"):
            raw = self._raw_inputs(app, enrichment)
            x = feature_row(raw)
            features = as_dict(x)

        scorer = self.scorers.current  # pinned: this decision uses one version throughout
        degraded = [d["source"] for d in enrichment.degraded]
        case = Case(app.country, x, raw, features, degraded, scorer)
        pending = self.rollout.start_shadow(assignment, case) if self.rollout and assignment else None

        if decided_by == "model":
            with stage("score_explain"):
                score = scorer.score(x)
                reasons = top_reasons(scorer.feature_names, score.contributions,
                                      self.reason_count, language)
            with stage("rules"):
                result = self.policy.decide(app.country, score.probability, raw, features,
                                            degraded, velocity=velocity)
            # A degraded source whose policy is "refer" withholds the score (ADR 0012).
            shown = None if result.withhold_score else score.probability
            live = ArmOutcome("model", result.outcome, scorer.version,
                              probability_of_default=shown,
                              grade=None if result.withhold_score else result.grade)
            if result.withhold_score:
                reasons = []
            model_sections = self._model_sections(scorer, score, result)
        else:
            with stage("legacy"):
                live = self.rollout.decide_legacy(case)  # type: ignore[union-attr]
            # Contribution = scorecard points the attribute cost (ADR 0053).
            reasons = reasons_for(live.reason_weights[:self.reason_count], language)
            model_sections = {"score": None, "explanation": None, "policy": None,
                              "legacy": live.record()}

        shadow = None
        if pending is not None:
            with stage("shadow_wait"):
                shadow = await self.rollout.compare(pending, live,  # type: ignore[union-attr]
                                                    app.country)

        decision_id = uuid.uuid4().hex
        response = {
            "decision_id": decision_id,
            "application_id": app.application_id,
            "outcome": live.outcome,
            # The legacy arm has no probability or grade: null rather than the shadow
            # model's numbers, which did not decide (docs/decisions/0053).
            "probability_of_default": live.probability_of_default,
            "grade": live.grade,
            "decided_by": decided_by,
            "model_version": scorer.version if decided_by == "model" else None,
            "reasons": [r.__dict__ for r in reasons],
            "degraded": enrichment.degraded,
        }
        record = {
            "type": "decision",
            "schema_version": RECORD_SCHEMA_VERSION,
            "decision_id": decision_id,
            "application_id": app.application_id,
            "country": app.country,
            "decided_at": datetime.now(UTC).isoformat(),
            "request_sha256": rhash,
            "application": self.protector.protect(app.model_dump(mode="json")),
            "enrichment": enrichment.sources,
            "velocity": velocity,
            "raw_inputs": raw,
            "feature_set_version": FEATURE_SET_VERSION,
            "features": features,
            "model": {"name": scorer.model.name, "version": scorer.version,
                      "run_id": scorer.model.run_id},
            **model_sections,
            "flags": (assignment.record() if assignment
                      else {"mode": "full", "decided_by": "model"}),
            "shadow": shadow,
            "timings_ms": dict(stage.ms),
            "response": response,
        }
        try:
            with stage("audit"):
                await self.committer.append(record, application_id=app.application_id,
                                            decision_id=decision_id)
        except DuplicateApplication:
            # A concurrent identical request won the race; answer with its decision.
            existing = await asyncio.to_thread(self.audit.get_by_application, app.application_id)
            if existing is None:
                raise AuditUnavailable("audit record vanished after a duplicate") from None
            return self._replayed(existing, rhash)
        except Exception as exc:
            self.metrics.audit_failures.inc()
            raise AuditUnavailable("the audit log could not record this decision; "
                                   "no decision was made") from exc
        # The audit stage ends after the record is written: in the metrics, not the record.
        self._observe(response, app.country, stage.ms, t0)
        return Outcome(response, True)

    def _model_sections(self, scorer: Scorer, score: Any, result: Any) -> dict[str, Any]:
        return {
            "score": {"probability_of_default": score.probability, "log_odds": score.log_odds},
            "explanation": {"base_value": score.base_value,
                            "contributions": dict(zip(scorer.feature_names,
                                                      map(float, score.contributions), strict=True))},
            "policy": {"version": self.policy.version, "outcome": result.outcome,
                       "grade": result.grade, "fired": [f.__dict__ for f in result.fired]},
        }

    async def _velocity(self, app: Application) -> dict[str, int] | None:
        """Count this application and return the applicant's velocity; None if the store
        failed (a degradation, never an error)."""
        if self.velocity is None:
            return None
        try:
            return await blocking.call(self.velocity.store, self.velocity.record,
                                       app.applicant.customer_id, app.applicant.national_id)
        except Exception as exc:
            _log.warning("velocity_unavailable", error_type=type(exc).__name__)
            return None

    def _observe(self, response: dict[str, Any], country: str, timings: dict[str, float],
                 t0: float) -> None:
        total = time.perf_counter() - t0
        self.metrics.decisions.labels(response["outcome"], country, response["decided_by"]).inc()
        for stage, ms in timings.items():
            self.metrics.stage_seconds.labels(stage).observe(ms / 1000)
        self.metrics.stage_seconds.labels("total").observe(total)
        # One log line per request: the middleware's access line carries these fields.
        structlog.contextvars.bind_contextvars(
            decision_id=response["decision_id"], country=country, outcome=response["outcome"],
            decided_by=response["decided_by"], model_version=response["model_version"],
            degraded=[d["source"] for d in response["degraded"]])

    def _replayed(self, entry: Entry, rhash: str) -> Outcome:
        stored = orjson.loads(entry.body)
        if stored.get("request_sha256") != rhash:
            raise IdempotencyConflict(_CONFLICT)
        return Outcome(stored["response"], False)

    @staticmethod
    def _raw_inputs(app: Application, enrichment: Enrichment) -> dict[str, Any]:
        a, loan = app.applicant, app.loan
        return {
            "age": a.age, "seniority": a.seniority_years, "time": loan.term_months,
            "amount": loan.amount, "price": loan.purchase_price,
            "home": a.home, "marital": a.marital_status, "job": a.job,
            **enrichment.raw_fields(),
        }


class Stages:
    """Times each stage of a decision (for its record and the metrics) and traces it as an
    OpenTelemetry span."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.ms: dict[str, float] = {}
        self._tracer = tracer

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        with self._tracer.start_as_current_span(name):
            yield
        self.ms[name] = _ms(start)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
