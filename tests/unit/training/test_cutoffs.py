"""Cut-offs: the trade-off curve, both objectives, per-country scopes and the draft."""

import numpy as np
import pytest

from decision.policy import Policy
from models.features import FEATURE_NAMES
from training import cutoffs
from training.data import LABEL, features_of, load_credit_data


def test_curve_counts_rows_below_each_cut():
    p = np.array([0.1, 0.1, 0.2, 0.3, 0.4])
    y = np.array([0, 1, 0, 1, 0])
    eligible = np.array([True, True, True, False, True])
    t, rate, bad, k = cutoffs.curve(p, y, eligible)
    assert list(k) == [2, 3, 4]  # ties cut together; the ineligible row never approved
    for ti, ki, bi in zip(t, k, bad, strict=True):
        approved = eligible & (p < ti)
        assert approved.sum() == ki and y[approved].mean() == bi
    assert list(rate) == [0.4, 0.6, 0.8]


@pytest.fixture(scope="module")
def data():
    df = load_credit_data()
    df = df[df["income"].notna()].reset_index(drop=True)
    x, y = features_of(df), df[LABEL].to_numpy()
    rng = np.random.default_rng(1)
    # A score that ranks well, not perfectly: the truth blurred.
    p = np.clip(0.25 * y + rng.normal(0.2, 0.12, len(y)), 0.001, 0.999)
    return x, y, p


def test_default_objective_keeps_approval_and_lowers_bad_rate(data):
    x, y, p = data
    found, text = cutoffs.propose(x, y, p, Policy.load(), version="d1")
    (all_,) = found
    assert all_.chosen.approval_rate >= all_.legacy.approval_rate
    assert all_.chosen.bad_rate <= min(pt.bad_rate for pt in all_.curve
                                       if pt.approval_rate >= all_.legacy.approval_rate)
    draft = Policy.from_text(text)
    assert draft.version == "d1"
    for c in ("ES", "PT", "DE", "FR"):  # the base's country overrides do not win
        assert draft.params(c)["approve_below"] == all_.chosen.threshold
    assert draft.params("DE")["decline_at"] >= draft.params("DE")["approve_below"]
    assert draft.params("DE")["degraded"]["bureau"] == "refer"  # rules kept


def test_bad_rate_ceiling_objective(data):
    x, y, p = data
    found, _ = cutoffs.propose(x, y, p, Policy.load(), version="d2",
                               objective="bad-rate-ceiling", ceiling=0.10)
    chosen = found[0].chosen
    assert chosen.bad_rate <= 0.10
    # The best of every cut (the card's thinned curve is a subset of them).
    assert chosen.approval_rate >= max(pt.approval_rate for pt in found[0].curve
                                       if pt.bad_rate <= 0.10)
    none, _ = cutoffs.propose(x, y, p, Policy.load(), version="d3",
                              objective="bad-rate-ceiling", ceiling=0.0)
    assert none[0].chosen is None or none[0].chosen.bad_rate == 0.0


def test_per_country_where_data_allows(data):
    """A country with enough test rows gets its own cut-off; a small one inherits `all`."""
    x, y, p = data
    countries = np.where(np.arange(len(y)) % 10 == 0, "PT", "ES")  # PT: ~400 rows
    countries[:50] = "FR"
    found, text = cutoffs.propose(x, y, p, Policy.load(), countries=countries, version="d4")
    scopes = {c.scope for c in found}
    assert scopes == {"all", "ES", "PT"}
    draft = Policy.from_text(text)
    chosen = {c.scope: c.chosen.threshold for c in found}
    assert draft.params("ES")["approve_below"] == chosen["ES"]
    assert draft.params("PT")["approve_below"] == chosen["PT"]
    assert draft.params("FR")["approve_below"] == chosen["all"]


def test_rules_pass_excludes_knocked_out_rows(data):
    x, _, _ = data
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    ok = cutoffs.rules_pass(x, Policy.load(), "ES")
    assert not ok[x[:, col["amount"]] > x[:, col["price"]]].any()
    assert ok.mean() > 0.5
