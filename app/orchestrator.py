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

from app.adapters import bureau as bureau_mod
from app.adapters import open_banking as ob_mod
from app.adapters.base import Source, SourceResult
from app.errors import AuditUnavailable, DependencyError, IdempotencyConflict
from app.policy import Policy
from app.schemas import Application
from audit.group_commit import GroupCommitter
from audit.pii import Pseudonymizer
from audit.record import Entry, canonical, sha256_hex
from audit.store import AuditStore, DuplicateApplication
from models.features import FEATURE_SET_VERSION, as_dict, feature_row
from models.reasons import top_reasons
from models.scorer import Scorer

RECORD_SCHEMA_VERSION = 1
_TO_RAW = {"bureau": bureau_mod.to_raw, "open_banking": ob_mod.to_raw}
_EMPTY_RAW = {"bureau": {"records": None, "debt": None},
              "open_banking": {"income": None, "expenses": None, "assets": None}}


@dataclass(frozen=True)
class Outcome:
    response: dict[str, Any]
    created: bool  # False when an earlier identical request's decision is returned


def request_hash(app: Application) -> str:
    return sha256_hex(canonical(app.model_dump(mode="json")))


def response_of(entry: Entry) -> dict[str, Any]:
    return orjson.loads(entry.body)["response"]


class Orchestrator:
    def __init__(self, *, scorer: Scorer, sources: dict[str, Source], policy: Policy,
                 audit: AuditStore, committer: GroupCommitter, pseudonymizer: Pseudonymizer,
                 deadline_s: float, reason_count: int) -> None:
        self.scorer = scorer
        self.sources = sources
        self.policy = policy
        self.audit = audit
        self.committer = committer
        self.pseudonymizer = pseudonymizer
        self.deadline_s = deadline_s
        self.reason_count = reason_count

    async def decide(self, app: Application, language: str = "en") -> Outcome:
        t0 = time.perf_counter()
        rhash = request_hash(app)
        existing = await asyncio.to_thread(self.audit.get_by_application, app.application_id)
        if existing is not None:
            return self._replayed(existing, rhash)

        timings: dict[str, float] = {}
        enrichment, degraded = await self._enrich(app)
        timings["enrichment"] = _ms(t0)

        t = time.perf_counter()
        raw = self._raw_inputs(app, enrichment)
        x = feature_row(raw)
        features = as_dict(x)
        timings["features"] = _ms(t)

        t = time.perf_counter()
        scorer = self.scorer  # pinned for this decision
        score = scorer.score(x)
        reasons = top_reasons(scorer.feature_names, score.contributions, self.reason_count,
                              language)
        timings["score_explain"] = _ms(t)

        t = time.perf_counter()
        result = self.policy.decide(app.country, score.probability, raw, features,
                                    [d["source"] for d in degraded])
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
            "degraded": degraded,
        }
        record = {
            "type": "decision",
            "schema_version": RECORD_SCHEMA_VERSION,
            "decision_id": decision_id,
            "application_id": app.application_id,
            "country": app.country,
            "decided_at": datetime.now(UTC).isoformat(),
            "request_sha256": rhash,
            "application": self._protected_application(app),
            "enrichment": enrichment,
            "raw_inputs": raw,
            "feature_set_version": FEATURE_SET_VERSION,
            "features": features,
            "model": {"name": scorer.model.name, "version": scorer.version,
                      "run_id": scorer.model.run_id},
            "score": {"probability_of_default": score.probability, "log_odds": score.log_odds},
            "explanation": {"base_value": score.base_value,
                            "contributions": dict(zip(scorer.feature_names,
                                                      map(float, score.contributions)))},
            "policy": {"version": self.policy.version, "outcome": result.outcome,
                       "grade": result.grade, "fired": [f.__dict__ for f in result.fired]},
            "flags": {"mode": "full", "decided_by": "model"},
            "shadow": None,
            "timings_ms": timings,
            "response": response,
        }
        t = time.perf_counter()
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
        timings["audit"] = _ms(t)
        return Outcome(response, True)

    def _replayed(self, entry: Entry, rhash: str) -> Outcome:
        stored = orjson.loads(entry.body)
        if stored.get("request_sha256") != rhash:
            raise IdempotencyConflict(
                "application_id was already decided with a different request body; "
                "use a new application_id for a changed application")
        return Outcome(stored["response"], False)

    async def _enrich(self, app: Application) -> tuple[dict[str, Any], list[dict[str, str]]]:
        consent = {"bureau": app.consent.bureau, "open_banking": app.consent.open_banking}
        tasks = {name: asyncio.create_task(src.fetch(app.applicant.national_id))
                 for name, src in self.sources.items() if consent[name]}
        if tasks:
            await asyncio.wait(tasks.values(), timeout=self.deadline_s)
        enrichment: dict[str, Any] = {}
        degraded: list[dict[str, str]] = []
        for name in self.sources:
            task = tasks.get(name)
            reason = None
            if task is None:
                reason = "no_consent"
            elif not task.done():
                task.cancel()
                reason = "deadline"
            elif isinstance(task.exception(), DependencyError):
                reason = task.exception().reason  # type: ignore[union-attr]
            elif task.exception() is not None:
                reason = "error"
            if reason is None:
                res: SourceResult = task.result()  # type: ignore[union-attr]
                enrichment[name] = {"status": "ok", "values": res.values,
                                    "raw_sha256": res.raw_sha256,
                                    "latency_ms": round(res.latency_ms, 3)}
            else:
                enrichment[name] = {"status": "degraded", "reason": reason}
                degraded.append({"source": name, "reason": reason,
                                 "code": f"{name}_unavailable"})
        return enrichment, degraded

    @staticmethod
    def _raw_inputs(app: Application, enrichment: dict[str, Any]) -> dict[str, Any]:
        a, loan = app.applicant, app.loan
        raw: dict[str, Any] = {
            "age": a.age, "seniority": a.seniority_years, "time": loan.term_months,
            "amount": loan.amount, "price": loan.purchase_price,
            "home": a.home, "marital": a.marital_status, "job": a.job,
        }
        for name, to_raw in _TO_RAW.items():
            got = enrichment.get(name, {})
            raw.update(to_raw(got["values"]) if got.get("status") == "ok" else _EMPTY_RAW[name])
        return raw

    def _protected_application(self, app: Application) -> dict[str, Any]:
        doc = app.model_dump(mode="json")
        doc["applicant"]["national_id"] = self.pseudonymizer.national_id(app.applicant.national_id)
        return doc


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
