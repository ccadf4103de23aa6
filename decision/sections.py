"""What a decision's record and response say, built from its stages' results: the response
the caller is told, the record's live-arm sections, and the raw inputs the feature function
takes. Pure functions (no I/O), used by the orchestrator and tested on their own."""

from __future__ import annotations

from typing import Any

from audit.records import (
    DecisionResponse,
    Explanation,
    FiredRule,
    PolicySection,
    Reason,
    ScoreSection,
)
from decision.application import Application
from decision.arms import ArmOutcome
from decision.enrichment import Enrichment
from models.reasons import reasons_for, top_reasons


def decision_response(decision_id: str, app: Application, live: ArmOutcome,
                      enrichment: Enrichment, feature_names: tuple[str, ...],
                      reason_count: int, language: str) -> DecisionResponse:
    """What the caller is told: the live arm's outcome, its principal reasons, what degraded.
    A degraded source whose policy is "refer" withholds the score (ADR 0012)."""
    withheld = live.policy is not None and live.policy.withhold_score
    if live.score is not None:
        reasons = [] if withheld else top_reasons(feature_names, live.score.contributions,
                                                  reason_count, language)
    else:
        # Contribution = scorecard points the attribute cost (ADR 0053).
        reasons = reasons_for(live.reason_weights[:reason_count], language)
    return DecisionResponse(
        decision_id=decision_id, application_id=app.application_id, outcome=live.outcome,
        # The legacy arm has no probability or grade: null rather than the shadow
        # model's numbers, which did not decide (docs/decisions/0053).
        probability_of_default=None if withheld else live.probability_of_default,
        grade=None if withheld else live.grade, decided_by=live.arm,
        model_version=live.version if live.arm == "model" else None,
        reasons=[Reason(code=r.code, feature=r.feature, text=r.text,
                        contribution=r.contribution) for r in reasons],
        degraded=enrichment.degraded)


def raw_inputs(app: Application, enrichment: Enrichment) -> dict[str, Any]:
    """The raw fields the feature function takes: the form's and the sources' (the same
    names offline, models/features.py)."""
    a, loan = app.applicant, app.loan
    return {"age": a.age, "seniority": a.seniority_years, "time": loan.term_months,
            "amount": loan.amount, "price": loan.purchase_price,
            "home": a.home, "marital": a.marital_status, "job": a.job,
            **enrichment.raw_fields()}


def live_sections(live: ArmOutcome, feature_names: tuple[str, ...]) -> dict[str, Any]:
    """The record's score, explanation and policy (model; no legacy section, as in every
    schema-1 record) or legacy section (legacy)."""
    if live.arm == "legacy":
        return {"score": None, "explanation": None, "policy": None, "legacy": live.result()}
    score, policy = live.score, live.policy
    if score is None or policy is None or score.base_value is None \
            or score.contributions is None:
        raise RuntimeError("the live model arm gave no explained score")
    return {
        "score": ScoreSection(probability_of_default=score.probability, log_odds=score.log_odds),
        "explanation": Explanation(
            base_value=score.base_value,
            contributions=dict(zip(feature_names, map(float, score.contributions), strict=True))),
        "policy": PolicySection(version=policy.version, outcome=policy.outcome, grade=policy.grade,
                                fired=[FiredRule(rule=f.rule, effect=f.effect, detail=f.detail)
                                       for f in policy.fired])}
