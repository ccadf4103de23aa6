"""Reviewer reason codes: a versioned list, each valid for some outcomes, in two languages."""

import pytest

from review.errors import InvalidReview
from review.reasons import ReasonCodes


def test_the_shipped_list_is_versioned_and_covers_both_outcomes():
    codes = ReasonCodes.load()
    assert codes.version
    assert codes.for_outcome("approve") and codes.for_outcome("decline")
    assert all(c.en and c.es and c.en != c.es for c in codes.codes.values())


def test_a_code_must_fit_the_outcome():
    """A decline reason cannot justify an approval; the error lists the valid codes."""
    codes = ReasonCodes.load()
    assert codes.check("INSUFFICIENT_INCOME", "decline").text("es").startswith("Ingresos")
    with pytest.raises(InvalidReview, match="VERIFIED_INCOME"):
        codes.check("INSUFFICIENT_INCOME", "approve")
    with pytest.raises(InvalidReview):
        codes.check("MADE_UP", "decline")


def test_a_list_with_an_unknown_outcome_is_refused(tmp_path):
    path = tmp_path / "codes.toml"
    path.write_text('version = "x"\n[codes.A]\noutcomes = ["refer"]\nen = "a"\nes = "b"\n')
    with pytest.raises(ValueError, match="outcomes"):
        ReasonCodes.load(path)
