"""The decision path for one application: enrich -> features -> score+explain -> rules -> audit.

Dependencies arrive through the constructor (wired in app/bootstrap.py); nothing here knows
about HTTP routes, settings files or which backend stores the audit log.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from app.enrichment import Enricher, Enrichment
from app.errors import AuditUnavailable, IdempotencyConflict
from app.metrics import DecisionMetrics
from app.policy import Policy
from app.schemas import Application
from audit.group_commit import GroupCommitter
from audit.pii import Pseudonymizer
from audit.record import Entry, canonical, sha256_hex
from audit.store import AuditStore, DuplicateApplication
from models.features import FEATURE_SET_VERSION, as_dict, feature_row
from models.reasons import top_reasons
from models.reloader import ScorerHolder
from models.scorer import Scorer

RECORD_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Outcome:
    response: dict[str, Any]
    created: bool  # False when an earlier identical request's decision is returned


def request_hash(app: Application) -> str:
    return sha256_hex(canonical(app.model_dump(mode="json")))


def response_of(entry: Entry) -> dict[str, Any]:
    return orjson.loads(entry.body)["response"]


class Orchestrator:
    def __init__(self, *, scorer: Scorer | ScorerHolder, enricher: Enricher, policy: Policy,
                 audit: AuditStore, committer: GroupCommitter, pseudonymizer: Pseudonymizer,
                 reason_count: int, metrics: DecisionMetrics) -> None:
        # A holder whose `current` Scorer can be swapped by the hot reloader (models/reloader.py).
        self.scorers = scorer if isinstance(scorer, ScorerHolder) else ScorerHolder(scorer)
        self.enricher = enricher
        self.policy = policy
        self.audit = audit
        self.committer = committer
        self.pseudonymizer = pseudonymizer
        self.reason_count = reason_count
        self.metrics = metrics

    @property
    def scorer(self) -> Scorer:
        """The Scorer new decisions use now."""
        return self.scorers.current

    async def decide(self, app: Application, language: str = "en") -> Outcome:
        t0 = time.perf_counter()
        rhash = request_hash(app)
        existing = await asyncio.to_thread(self.audit.get_by_application, app.application_id)
        if existing is not None:
            return self._replayed(existing, rhash)

        timings: dict[str, float] = {}
        enrichment = await self.enricher.enrich(app)
        timings["enrichment"] = _ms(t0)

        t = time.perf_counter()
        raw = self._raw_inputs(app, enrichment)
        x = feature_row(raw)
        features = as_dict(x)
        timings["features"] = _ms(t)

        t = time.perf_counter()
        scorer = self.scorers.current  # pinned: this decision uses one version throughout
        score = scorer.score(x)
        reasons = top_reasons(scorer.feature_names, score.contributions, self.reason_count,
                              language)
        timings["score_explain"] = _ms(t)

        t = time.perf_counter()
        result = self.policy.decide(app.country, score.probability, raw, features,
                                    [d["source"] for d in enrichment.degraded])
        timings["rules"] = _ms(t)

        decision_id = uuid.uuid4().hex
        response = {
            "decision_id": decision_id,
            "application_id": app.application_id,
            "outcome": result.outcome,
            "probability_of_default": score.probability,
            "grade": result.grade,
            "decided_by": "model",
            "model_version": scorer.version,
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
            "application": self.pseudonymizer.protect(app.model_dump(mode="json")),
            "enrichment": enrichment.sources,
            "raw_inputs": raw,
            "feature_set_version": FEATURE_SET_VERSION,
            "features": features,
            "model": {"name": scorer.model.name, "version": scorer.version,
                      "run_id": scorer.model.run_id},
            "score": {"probability_of_default": score.probability, "log_odds": score.log_odds},
            "explanation": {"base_value": score.base_value,
                            "contributions": dict(zip(scorer.feature_names,
                                                      map(float, score.contributions), strict=True))},
            "policy": {"version": self.policy.version, "outcome": result.outcome,
                       "grade": result.grade, "fired": [f.__dict__ for f in result.fired]},
            "flags": {"mode": "full", "decided_by": "model"},
            "shadow": None,
            "timings_ms": timings,
            "response": response,
        }
        try:
            await self.committer.append(record, application_id=app.application_id,
                                        decision_id=decision_id)
        except DuplicateApplication:
            # A concurrent identical request won the race; answer with its decision.
            existing = await asyncio.to_thread(self.audit.get_by_application, app.application_id)
            if existing is None:
                raise AuditUnavailable("audit record vanished after a duplicate") from None
            return self._replayed(existing, rhash)
        except Exception as exc:
            raise AuditUnavailable("the audit log could not record this decision; "
                                   "no decision was made") from exc
        self._observe(app.country, result.outcome, timings, t0)
        return Outcome(response, True)

    def _observe(self, country: str, outcome: str, timings: dict[str, float], t0: float) -> None:
        self.metrics.decisions.labels(outcome, country, "model").inc()
        for stage, ms in timings.items():
            self.metrics.stage_seconds.labels(stage).observe(ms / 1000)
        self.metrics.stage_seconds.labels("total").observe(time.perf_counter() - t0)

    def _replayed(self, entry: Entry, rhash: str) -> Outcome:
        stored = orjson.loads(entry.body)
        if stored.get("request_sha256") != rhash:
            raise IdempotencyConflict(
                "application_id was already decided with a different request body; "
                "use a new application_id for a changed application")
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


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
