import pytest

from feature_flags.model import BUCKETS, CountryFlag, InvalidFlag, default_flag, percent_to_bp


@pytest.mark.parametrize(("percent", "bp"), [("20", 2000), (20.0, 2000), (0.01, 1), ("99.99", 9999),
                                             (0, 0), (100, BUCKETS), ("12.5", 1250)])
def test_canary_percent_in_basis_points(percent, bp):
    """Percentages with up to two decimals map exactly to basis points."""
    assert percent_to_bp(percent, "canary") == bp


@pytest.mark.parametrize("percent", ["20.005", 100.01, -1, "abc", "nan", None])
def test_bad_canary_percent_is_refused(percent):
    with pytest.raises(InvalidFlag):
        percent_to_bp(percent, "canary")


def test_percent_only_for_canary_and_modes_are_checked():
    assert percent_to_bp(None, "full") == BUCKETS and percent_to_bp(None, "legacy") == 0
    with pytest.raises(InvalidFlag, match="canary mode only"):
        percent_to_bp(20, "shadow")
    with pytest.raises(InvalidFlag, match="mode must be"):
        percent_to_bp(None, "yolo")


def test_arm_per_mode():
    """Canary: buckets below the share go to the model; legacy and shadow never do."""
    canary = CountryFlag("ES", "canary", 2000)
    assert canary.arm_for(1999) == "model" and canary.arm_for(2000) == "legacy"
    assert CountryFlag("ES", "full").arm_for(9999) == "model"
    assert {default_flag("ES", m).arm_for(0) for m in ("legacy", "shadow")} == {"legacy"}
    assert CountryFlag.from_dict(canary.to_dict()) == canary
