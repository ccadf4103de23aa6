"""Reference bins: deciles for numbers, one bin per category, a bin for missing values."""

import numpy as np
import pytest

from models.features import CATEGORIES
from monitoring.reference import Bins, Reference, categorical_bins, numeric_bins


def test_numeric_bins_are_deciles_of_the_reference():
    """A continuous feature gets ten bins of a tenth of the rows each, plus missing."""
    values = np.concatenate([np.random.default_rng(1).normal(size=10_000), [np.nan] * 50])
    bins = numeric_bins(values)
    assert len(bins.edges) == 9 and bins.size == 11
    assert bins.counts[:10] == (1000,) * 10 and bins.counts[-1] == 50
    assert bins.labels[0].startswith("< ") and bins.labels[-1] == "missing"


def test_ties_merge_bins():
    """A feature with few distinct values gets as many bins as its quantiles tell apart."""
    bins = numeric_bins(np.array([12, 24, 36, 36, 36, 48, 60, 60, 60, 60] * 10, dtype=float))
    assert bins.edges == tuple(sorted(set(bins.edges)))
    assert sum(bins.counts) == 100 and bins.size == len(bins.edges) + 2
    # Values equal to an edge fall in the bin it opens, in the reference and live alike.
    assert bins.count(np.array([36.0, 60.0])).tolist() == list(
        bins.count(np.array([36.0])) + bins.count(np.array([60.0])))


def test_categories_get_one_bin_each_and_unknown_codes_are_missing():
    """models.features codes 0..k-1 fall in their own bin; NaN in the missing bin."""
    names = CATEGORIES["home"]
    bins = categorical_bins(np.array([0, 0, 1, 5, np.nan]), names)
    assert bins.labels == (*names, "missing")
    assert bins.counts == (2, 1, 0, 0, 0, 1, 1)


def test_reference_round_trips_through_json():
    """What training stores is what monitoring reads."""
    x = np.column_stack([np.arange(100.0), np.arange(100.0) % 3])
    ref = Reference.fit(x, ["age", "job"], np.linspace(0.01, 0.9, 40), "1")
    assert Reference.from_json(ref.to_json()) == ref
    assert ref.features["job"].kind == "categorical" and ref.score_rows == 40


def test_an_unknown_format_is_refused():
    """A reference written by a newer version is not misread."""
    doc = Reference.fit(np.zeros((3, 1)), ["age"], np.zeros(3), "1").to_json()
    with pytest.raises(ValueError, match="format"):
        Reference.from_json({**doc, "format": 99})


def test_counting_empty_input_gives_zeros():
    """No values: a zero count in every bin."""
    bins = Bins("numeric", (1.0,), ("< 1", ">= 1", "missing"), (1, 1, 0))
    assert bins.count(np.array([])).tolist() == [0, 0, 0]
