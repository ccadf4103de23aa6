"""The applicant's explanation of a decision (GDPR Art. 22(3), AI Act Art. 86; for a final
decline, the adverse-action notice of Regulation B): the final outcome, at most four
principal reasons taken from what was actually scored, the data sources used, and how to
contest. English or Spanish; JSON, or HTML rendered from templates/explanation.html.

Principal reasons are the recorded top positive contributions of the decision (what raised
the assessed risk most), or for a legacy decision the scorecard's recorded reasons (knock-outs,
then points lost). A score withheld because a source was missing gives no reasons, and says so.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from audit.records import DecisionRecord
from models.reasons import reasons_for
from review.desk import Story
from review.model import Notice
from review.reasons import ReasonCodes

MAX_REASONS = 4
Language = Literal["en", "es"]


class PrincipalReason(BaseModel):
    code: str
    feature: str
    text: str
    contribution: float  # log-odds it added (model) or points it cost (scorecard)


class SourceUsed(BaseModel):
    source: str
    description: str
    status: Literal["used", "not_used", "not_consulted"]
    status_text: str


class HumanReview(BaseModel):
    outcome: Literal["approve", "decline"]
    decided_at: str
    reasons: list[str]


class AdverseActionNotice(BaseModel):
    text: str
    due_by: str
    status: Literal["pending", "sent", "withdrawn"]
    sent_at: str | None


class ExplanationDoc(BaseModel):
    decision_id: str
    application_id: str
    language: Language
    title: str
    decided_at: str
    final_outcome: Literal["approve", "decline"] | None
    summary: str
    decided_by: Literal["automated", "person"]
    decided_by_text: str
    reasons_title: str
    reasons_note: str
    principal_reasons: list[PrincipalReason]
    policy_rules_title: str
    policy_rules: list[str] = Field(description="knock-out rules of the credit policy that "
                                    "declined the application, in plain language")
    human_review: HumanReview | None
    human_review_title: str
    data_sources_title: str
    data_sources: list[SourceUsed]
    how_to_contest_title: str
    how_to_contest: str
    adverse_action_notice: AdverseActionNotice | None
    adverse_action_notice_title: str


@cache
def texts(language: str) -> dict[str, str]:
    doc = tomllib.loads(resources.files("review").joinpath("explanation_texts.toml").read_text())
    return doc[language]


def language_of(accept_language: str | None) -> Language:
    """The first of es/en the header names (any region, any q order as written), else en."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in ("es", "en"):
            return tag  # type: ignore[return-value]
    return "en"


def principal_reasons(record: DecisionRecord, language: str) -> tuple[list[PrincipalReason], str]:
    """(at most four reasons, the note that says where they come from)."""
    t = texts(language)
    if record.legacy is not None:
        weights = [(r.feature, r.contribution) for r in record.response.reasons[:MAX_REASONS]]
        note = t["reasons_legacy"]
    elif record.policy is not None and any(f.rule == "score_withheld" for f in record.policy.fired):
        return [], t["reasons_withheld"]
    else:
        contributions = record.explanation.contributions if record.explanation else {}
        ranked = sorted(contributions.items(), key=lambda kv: -kv[1])
        weights = [(f, c) for f, c in ranked if c > 0][:MAX_REASONS]
        note = t["reasons_model"]
    reasons = [PrincipalReason(code=r.code, feature=r.feature, text=r.text,
                               contribution=r.contribution)
               for r in reasons_for(weights, language)]
    return reasons, note if reasons else t["reasons_none"]


def _rules(record: DecisionRecord, t: dict[str, str]) -> list[str]:
    """The policy's knock-outs that declined it (the score's own decline is the reasons)."""
    fired = record.policy.fired if record.policy is not None else []
    return [t[f"rule_{f.rule}"] for f in fired
            if f.effect == "decline" and f"rule_{f.rule}" in t]


def _sources(record: DecisionRecord, t: dict[str, str]) -> list[SourceUsed]:
    out = [SourceUsed(source="application", description=t["source_application"],
                      status="used", status_text=t["source_ok"])]
    for name, answer in record.enrichment.items():
        if answer.status == "ok":
            status, text = "used", t["source_ok"]
        elif answer.reason == "no_consent":
            status, text = "not_consulted", t["source_no_consent"]
        else:
            status, text = "not_used", t["source_degraded"]
        out.append(SourceUsed(source=name, description=t.get(f"source_{name}", name),
                              status=status, status_text=text))  # type: ignore[arg-type]
    return out


def explain(record: DecisionRecord, story: Story, notice: Notice | None, codes: ReasonCodes,
            language: Language) -> ExplanationDoc:
    t = texts(language)
    final = story.final_outcome
    decided = [c for c in story.cases if c.outcome is not None]
    last = max(decided, key=lambda c: c.decided_at or "") if decided else None
    human = None
    if last is not None:
        agreeing = [v for v in last.votes if v.outcome == last.outcome]
        human = HumanReview(outcome=last.outcome, decided_at=last.decided_at or "",  # type: ignore[arg-type]
                            reasons=list(dict.fromkeys(
                                codes.codes[v.reason_code].text(language)
                                if v.reason_code in codes.codes else v.reason_code
                                for v in agreeing)))
    reasons, note = principal_reasons(record, language)
    aan = None
    if final == "decline" and notice is not None:
        aan = AdverseActionNotice(text=t["notice"], due_by=notice.due_at, status=notice.status,
                                  sent_at=notice.sent_at)
    return ExplanationDoc(
        decision_id=record.decision_id, application_id=record.application_id,
        language=language, title=t["title"], decided_at=record.decided_at,
        final_outcome=final,  # type: ignore[arg-type]
        summary=t[f"outcome_{final or 'pending'}"],
        decided_by="person" if human else "automated",
        decided_by_text=t["decided_person" if human else "decided_automated"],
        reasons_title=t["reasons_title"], reasons_note=note, principal_reasons=reasons,
        policy_rules_title=t["rules_title"], policy_rules=_rules(record, t),
        human_review=human, human_review_title=t["human_title"],
        data_sources_title=t["sources_title"], data_sources=_sources(record, t),
        how_to_contest_title=t["contest_title"], how_to_contest=t["contest"],
        adverse_action_notice=aan, adverse_action_notice_title=t["notice_title"])


@cache
def _env() -> Environment:
    return Environment(loader=PackageLoader("review", "templates"),
                       autoescape=select_autoescape(["html"]), trim_blocks=True,
                       lstrip_blocks=True)


def render_html(doc: ExplanationDoc) -> str:
    return _env().get_template("explanation.html").render(
        doc=doc, t=texts(doc.language))
