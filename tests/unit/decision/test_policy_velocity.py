"""The velocity rule: more applications a day than the limit refers."""

import pytest

from decision.policy import Policy
from models.features import as_dict, feature_row
from tests.unit.decision.test_policy import RAW


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def velocity(customer=1, national_id=1):
    return {"customer_applications_24h": customer, "national_id_applications_24h": national_id}


def decide(policy, v):
    return policy.decide("ES", 0.01, RAW, as_dict(feature_row(RAW)), [], velocity=v)


def test_at_the_limit_approves(policy):
    """Exactly max_applications_per_day applications still approve."""
    limit = policy.params("ES")["max_applications_per_day"]
    assert decide(policy, velocity(limit, limit)).outcome == "approve"


@pytest.mark.parametrize("subject", ["customer", "national_id"])
def test_beyond_the_limit_refers_naming_the_subject(policy, subject):
    """One more than the limit, by customer or by national id, refers with its rule."""
    limit = policy.params("ES")["max_applications_per_day"]
    result = decide(policy, {**velocity(), f"{subject}_applications_24h": limit + 1})
    assert result.outcome == "refer"
    assert [f.rule for f in result.fired] == [f"{subject}_velocity"]


def test_no_velocity_fires_nothing(policy):
    """Without velocity data (older callers) the rule stays silent."""
    assert decide(policy, None).outcome == "approve"
