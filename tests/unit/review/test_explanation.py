"""The applicant's explanation: at most four reasons from what was scored, sources, how to
contest, the notice of a final decline; Spanish or English; JSON or HTML."""

from audit.records import (
    ArmResult,
    Degradation,
    Explanation,
    FiredRule,
    Reason,
    SourceAnswer,
)
from review.explanation import explain, language_of, render_html
from review.projection import referral_id
from review.reasons import ReasonCodes

CONTRIBUTIONS = {"income": 0.9, "debt": 0.5, "age": -0.4, "amount": 0.3, "records": 0.2,
                 "job": 0.1, "home": -0.05}
SOURCES = {"bureau": SourceAnswer(status="ok", values={}).model_dump(mode="json"),
           "open_banking": SourceAnswer(status="degraded", reason="timeout").model_dump(mode="json")}


def explained(desk, record, language="es"):
    return explain(record, desk.desk.story(record), desk.store.get_notice(record.decision_id),
                   ReasonCodes.load(), language)


def test_declined_applicant_gets_four_reasons_from_the_top_contributions_in_spanish(desk):
    """At most four, each among the decision's top positive contributions, largest first,
    in Spanish; the notice of a final decline is due in 30 days."""
    rec = desk.decided("D1", outcome="decline", enrichment=SOURCES,
                       explanation=Explanation(base_value=-1.0, contributions=CONTRIBUTIONS)
                       .model_dump(mode="json"))
    doc = explained(desk, rec)
    assert [r.feature for r in doc.principal_reasons] == ["income", "debt", "amount", "records"]
    assert doc.principal_reasons[0].text == "Ingresos mensuales verificados"
    assert doc.final_outcome == "decline" and doc.summary == "Su solicitud ha sido denegada."
    assert doc.decided_by == "automated"
    assert doc.adverse_action_notice.due_by.startswith("2026-12-20")
    assert {s.source: s.status for s in doc.data_sources} == {
        "application": "used", "bureau": "used", "open_banking": "not_used"}


def test_a_policy_knock_out_is_stated_in_plain_language(desk):
    """Declined by the affordability rule: the explanation says so besides the reasons."""
    rec = desk.decided("D1", outcome="decline", explanation=Explanation(
        base_value=-1.0, contributions=CONTRIBUTIONS).model_dump(mode="json"))
    doc = rec.model_dump(mode="json")
    doc["policy"]["fired"] = [FiredRule(rule="affordability", effect="decline",
                                        detail="65%").model_dump(),
                              FiredRule(rule="score_decline", effect="decline",
                                        detail="x").model_dump()]
    out = explained(desk, type(rec).model_validate(doc), "es")
    assert out.policy_rules == ["La cuota mensual sería demasiado alta en relación con sus "
                                "ingresos verificados."]


def test_a_referral_decided_by_a_person_says_so_with_the_reviewer_reason(desk):
    rec = desk.decided("D1", explanation=Explanation(base_value=-1.0, contributions={"age": -1.0})
                       .model_dump(mode="json"))
    pending = explained(desk, rec, "en")
    assert pending.final_outcome is None and "reviewed by a person" in pending.summary
    assert pending.principal_reasons == [] and pending.adverse_action_notice is None
    desk.desk.decide(referral_id("D1"), "approve", "VERIFIED_INCOME", None, "k1")
    doc = explained(desk, rec, "en")
    assert doc.final_outcome == "approve" and doc.decided_by == "person"
    assert doc.human_review.reasons == ["Income verified with documents"]
    assert doc.adverse_action_notice is None


def test_legacy_decision_uses_the_scorecard_reasons(desk):
    reasons = [Reason(code="R06_BAD_RECORDS", feature="records", text="x", contribution=300.0),
               *(Reason(code="R01_AGE", feature=f, text="x", contribution=10.0 - i)
                 for i, f in enumerate(["age", "job", "home", "income"]))]
    rec = desk.decided("D1", outcome="decline")
    doc = rec.model_dump(mode="json")
    doc.update(policy=None, score=None,
               legacy=ArmResult(arm="legacy", outcome="decline", version="s1", points=90.0)
               .model_dump(mode="json"))
    doc["response"].update(decided_by="legacy", reasons=[r.model_dump() for r in reasons])
    legacy = type(rec).model_validate(doc)
    out = explained(desk, legacy, "en")
    assert [r.feature for r in out.principal_reasons] == ["records", "age", "job", "home"]
    assert out.principal_reasons[0].text == "Adverse records at the credit bureau"
    assert "scoring rules" in out.reasons_note


def test_withheld_score_gives_no_reasons_and_says_why(desk):
    """A score withheld for a missing source explains nothing by it, and says so."""
    base = desk.decided("D1", explanation=Explanation(
        base_value=0, contributions=CONTRIBUTIONS).model_dump(mode="json"))
    doc = base.model_dump(mode="json")
    doc["policy"]["fired"] = [FiredRule(rule="score_withheld", effect="refer",
                                        detail="d").model_dump()]
    doc["response"]["degraded"] = [Degradation(source="bureau", reason="timeout",
                                               code="bureau_unavailable").model_dump()]
    out = explained(desk, type(base).model_validate(doc), "en")
    assert out.principal_reasons == []
    assert "could not be consulted" in out.reasons_note


def test_html_is_escaped_and_in_the_language(desk):
    rec = desk.decided("D1", outcome="decline", explanation=Explanation(
        base_value=0, contributions=CONTRIBUTIONS).model_dump(mode="json"))
    html = render_html(explained(desk, rec))
    assert '<html lang="es">' in html and "Notificación de denegación" in html
    assert html.count("<li data-code=") == 4
    doc = explained(desk, rec).model_copy(update={"summary": "<script>x</script>"})
    assert "<script>x" not in render_html(doc)


def test_accept_language():
    assert language_of("es-ES,es;q=0.9,en;q=0.8") == "es"
    assert language_of("en-GB") == "en"
    assert language_of("fr-FR, es;q=0.5") == "es"
    assert language_of(None) == language_of("de") == "en"
