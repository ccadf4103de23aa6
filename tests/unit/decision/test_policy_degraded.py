"""The degraded-source policy: per country and source, score_and_refer or refer outright."""

import pytest

from decision.policy import Policy
from models.features import as_dict, feature_row
from tests.unit.decision.test_policy import RAW


def decide(policy, probability, country, degraded, **changes):
    raw = {**RAW, **changes}
    return policy.decide(country, probability, raw, as_dict(feature_row(raw)), list(degraded))


def test_score_and_refer_keeps_the_score():
    """Spain scores without the bureau, refers, and keeps the grade."""
    result = decide(Policy.load(), 0.01, "ES", ["bureau"])
    assert result.outcome == "refer" and result.grade == "A"
    assert not result.withhold_score
    assert "bureau_degraded" in [f.rule for f in result.fired]


def test_refer_outright_withholds_the_score():
    """Germany refers without a bureau answer and withholds score and grade, even at PD 0.9."""
    for p in (0.01, 0.9):
        result = decide(Policy.load(), p, "DE", ["bureau"])
        assert result.outcome == "refer" and result.grade is None and result.withhold_score
        rules = [f.rule for f in result.fired]
        assert "score_withheld" in rules and "score_decline" not in rules


def test_country_override_is_per_source():
    """Germany's override covers the bureau only; open banking keeps the default."""
    policy = Policy.load()
    assert policy.degraded_mode("DE", "bureau") == "refer"
    assert policy.degraded_mode("DE", "open_banking") == "score_and_refer"
    assert not decide(policy, 0.01, "DE", ["open_banking"]).withhold_score


def test_knock_outs_still_decline_when_refer_outright():
    """A knock-out on application data alone still declines without the bureau."""
    result = decide(Policy.load(), 0.01, "DE", ["bureau"], amount=900.0, price=846.0)
    assert result.outcome == "decline"


def test_unknown_mode_is_refused():
    config = {"version": "t", "defaults": {"degraded": {"bureau": "ignore"}}}
    with pytest.raises(ValueError, match="unknown mode"):
        Policy(config)
