"""Valid audit records for tests that need records without running the decision path: built
through the typed models (audit/records.py), so every reader can parse them."""

from __future__ import annotations

from typing import Any

from audit.governance_records import FlagChange, FlagValue
from audit.records import (
    ArmResult,
    Comparison,
    DecisionInputs,
    DecisionRecord,
    DecisionResponse,
    FlagState,
    ModelRef,
    PolicySection,
    ScoreSection,
    ShadowSection,
    to_json,
)


def decision(decision_id: str = "D1", *, country: str = "ES", outcome: str = "approve",
             decided_by: str = "model", pd: float | None = 0.1,
             decided_at: str = "2026-11-20T10:00:00+00:00", application_id: str | None = None,
             shadow: ShadowSection | None = None, **fields: Any) -> dict[str, Any]:
    """A decision record's JSON (as the log holds it), with the given facts."""
    model = decided_by == "model"
    record = DecisionRecord(  # schema 1: the inputs in clear (empty here)
        schema_version=1, decision_id=decision_id, application_id=application_id or f"A-{decision_id}",
        country=country, decided_at=decided_at, request_sha256="0" * 64,
        application={"application_id": application_id or f"A-{decision_id}",
                     "country": country},
        enrichment={}, velocity=None, raw_inputs={}, feature_set_version="1", features={},
        model=ModelRef(name="credit-default", version="1", run_id="r"),
        score=ScoreSection(probability_of_default=pd or 0.0, log_odds=0.0) if model else None,
        explanation=None,
        policy=PolicySection(version="p1", outcome=outcome, grade="B", fired=[]) if model else None,
        legacy=None if model else ArmResult(arm="legacy", outcome=outcome, version="s1", points=100.0),
        flags=FlagState(mode="full" if model else "legacy", decided_by=decided_by),
        shadow=shadow, timings_ms={},
        response=DecisionResponse(
            decision_id=decision_id, application_id=application_id or f"A-{decision_id}",
            outcome=outcome, probability_of_default=pd if model else None,
            grade="B" if model else None, decided_by=decided_by,
            model_version="1" if model else None, reasons=[], degraded=[]))
    return {**to_json(record), **fields}


def sealed(doc: dict[str, Any], protector: Any, app: dict[str, Any],
           inputs: DecisionInputs) -> dict[str, Any]:
    """A `decision` as schema 2 writes it: the applicant, loan and inputs sealed under the
    customer's data key (an audit.pii.RecordProtector's), the application public."""
    applicant = app["applicant"]
    key = protector.data_key(applicant["customer_id"], applicant["national_id"])
    public, personal = protector.seal_decision(app, inputs, key)
    out = {**doc, "schema_version": 2, "application": public, "personal": to_json(personal)}
    for name in ("raw_inputs", "features", "velocity"):
        out.pop(name)
    return out


def shadow(legacy: str, model: str, *, status: str = "ok", points: float = 100.0,
           pd: float = 0.2) -> ShadowSection:
    if status != "ok":
        return ShadowSection(arm="legacy", status=status, error=None, elapsed_ms=0.1,
                             result=None, comparison=None)
    return ShadowSection(arm="legacy", status="ok", error=None, elapsed_ms=0.1,
                         result=ArmResult(arm="legacy", outcome=legacy, version="s1",
                                          points=points),
                         comparison=Comparison(legacy_outcome=legacy, model_outcome=model,
                                               legacy_points=points, model_probability=pd,
                                               agree=legacy == model))


def flag_change(country: str = "ES", at: str = "2026-11-20T10:00:00+00:00") -> dict[str, Any]:
    return to_json(FlagChange(country=country, at=at, actor="tests", reason="test change",
                              before=FlagValue(mode="full", percent_bp=10_000, version=0),
                              after=FlagValue(mode="legacy", percent_bp=0, version=1)))
