import pytest

from decision.policy import Policy
from models.features import as_dict, feature_row

RAW = {"age": 30, "seniority": 9, "time": 60, "amount": 800.0, "price": 846.0, "records": 0.0,
       "debt": 0.0, "income": 129.0, "expenses": 73.0, "assets": 0.0, "home": "rent",
       "marital": "married", "job": "fixed"}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def decide(policy, probability, country="ES", degraded=(), **changes):
    raw = {**RAW, **changes}
    return policy.decide(country, probability, raw, as_dict(feature_row(raw)), list(degraded))


def test_thresholds(policy):
    """Below approve_below approves, between refers, at decline_at declines."""
    p = policy.params("ES")
    assert decide(policy, p["approve_below"] - 0.01).outcome == "approve"
    assert decide(policy, p["approve_below"]).outcome == "refer"
    assert decide(policy, p["decline_at"]).outcome == "decline"


def test_country_override(policy):
    """Germany has a stricter approval threshold than the defaults."""
    assert policy.params("DE")["approve_below"] < policy.params("FR")["approve_below"]
    assert decide(policy, 0.21, country="FR").outcome == "approve"
    assert decide(policy, 0.21, country="DE").outcome == "refer"


def test_knock_outs_decline_whatever_the_score(policy):
    """Amount above price, unaffordable payment, age at maturity: decline at a low PD."""
    cases = {"loan_exceeds_price": {"amount": 900.0, "price": 846.0},
             "affordability": {"income": 20.0},
             "age_at_maturity": {"age": 78, "time": 60}}
    for rule, changes in cases.items():
        result = decide(policy, 0.01, **changes)
        assert result.outcome == "decline", rule
        assert rule in [f.rule for f in result.fired]


def test_degraded_source_refers(policy):
    """A missing source turns an approve into a refer and says which source."""
    result = decide(policy, 0.01, degraded=["bureau"])
    assert result.outcome == "refer"
    assert "bureau_degraded" in [f.rule for f in result.fired]


def test_unscored_refers_without_grade(policy):
    result = decide(policy, None)
    assert result.outcome == "refer" and result.grade is None


def test_grades_are_monotonic(policy):
    """A higher probability of default never gets a better grade."""
    grades = [decide(policy, p / 100).grade for p in range(0, 100)]
    assert grades == sorted(grades)
    assert grades[0] == "A" and grades[-1] == "F"
