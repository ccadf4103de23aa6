"""The vectorised policy (backtests) agrees with the per-decision policy row by row."""

import numpy as np
import pytest

from decision.application import COUNTRIES
from decision.policy import OUTCOMES, InvalidPolicy, Policy
from models.features import as_dict, feature_row
from training.data import LABEL, load_credit_data

DEGRADED = [[], [], [], ["bureau"], ["open_banking"], ["bureau", "open_banking"]]


@pytest.mark.parametrize("country", COUNTRIES)
def test_decide_batch_equals_decide(country):
    """On every credit_data row, with probabilities across every threshold, missing scores,
    degraded sources and velocity above and below the limit: the same outcome."""
    policy = Policy.load()
    df = load_credit_data().drop(columns=[LABEL])
    rng = np.random.default_rng(3)
    n = len(df)
    prob = rng.random(n)
    prob[rng.random(n) < 0.05] = np.nan
    degraded = [DEGRADED[i] for i in rng.integers(0, len(DEGRADED), n)]
    velocity = {"customer_applications_24h": rng.integers(0, 8, n),
                "national_id_applications_24h": rng.integers(0, 8, n)}
    expected, pti = [], np.empty(n)
    for i, row in enumerate(df.to_dict("records")):
        raw = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        features = as_dict(feature_row(raw))
        pti[i] = np.nan if features["payment_to_income"] is None else features["payment_to_income"]
        v = {k: int(c[i]) for k, c in velocity.items()}
        p = None if np.isnan(prob[i]) else float(prob[i])
        expected.append(policy.decide(country, p, raw, features, degraded[i], v).outcome)
    raw_cols = {c: df[c].to_numpy(dtype=float) for c in ("amount", "price", "age", "time",
                                                          "income")}
    masks = {s: np.array([s in d for d in degraded]) for s in ("bureau", "open_banking")}
    got = policy.decide_batch(country, prob, raw_cols, pti, masks, velocity)
    assert [OUTCOMES[s] for s in got] == expected
    assert len(set(expected)) == 3  # every outcome exercised


@pytest.mark.parametrize("change, match", [
    (("approve_below = 0.25", "approve_below = 0.9"), "approve_below <= decline_at"),
    (('version = "2026.11.3"', 'version = ""'), "version"),
    (('version = "2026.11.3"', 'version = "a/b c"'), "version"),
    (("max_payment_to_income = 0.6", 'max_payment_to_income = "x"'), "number"),
    (('bureau = "score_and_refer"', 'bureau = "ignore"'), "unknown mode"),
])
def test_invalid_documents_are_refused(change, match):
    text = (Policy.load().text or "").replace(*change)
    with pytest.raises(InvalidPolicy, match=match):
        Policy.from_text(text)


def test_decide_batch_equals_decide_at_every_boundary():
    """Rows exactly at each limit and just past it (score thresholds, amount = price,
    payment-to-income at its limit, age at maturity counted in twelfths), a source map
    without open banking: the two paths agree on each row."""
    policy = Policy.load()
    p = policy.params("ES")
    a, d = p["approve_below"], p["decline_at"]
    rows = [  # probability, amount, price, payment_to_income, age, time, income
        (a - 1e-9, 800, 900, 0.2, 30, 60, 100), (a, 800, 900, 0.2, 30, 60, 100),
        (d - 1e-9, 800, 900, 0.2, 30, 60, 100), (d, 800, 900, 0.2, 30, 60, 100),
        (0.1, 900, 900, 0.2, 30, 60, 100), (0.1, 901, 900, 0.2, 30, 60, 100),
        (0.1, 800, 900, p["max_payment_to_income"], 30, 60, 100),
        (0.1, 800, 900, p["max_payment_to_income"] + 0.01, 30, 60, 100),
        (0.1, 800, 900, np.nan, 30, 60, 100),
        (0.1, 800, 900, 0.2, p["max_age_at_maturity"] - 5, 60, 100),
        (0.1, 800, 900, 0.2, p["max_age_at_maturity"] - 5, 61, 100),
        (0.1, 800, 900, 0.2, p["max_age_at_maturity"] - 1, 24, 100),
        (0.1, 800, 900, 0.2, 30, 60, np.nan),
    ]
    cols = np.array(rows, dtype=float).T
    prob, amount, price, pti, age, term, income = cols
    raw = {"amount": amount, "price": price, "age": age, "time": term, "income": income}
    none = np.zeros(len(rows), dtype=bool)
    velocity = {"customer_applications_24h": np.zeros(len(rows), dtype=int),
                "national_id_applications_24h": np.zeros(len(rows), dtype=int)}
    got = policy.decide_batch("ES", prob, raw, pti, {"bureau": none}, velocity)
    expected = []
    for i in range(len(rows)):
        one = {k: (None if np.isnan(v[i]) else float(v[i])) for k, v in raw.items()}
        ratio = None if np.isnan(pti[i]) else float(pti[i])
        expected.append(policy.decide("ES", float(prob[i]), one, {"payment_to_income": ratio},
                                      [], {}).outcome)
    assert [OUTCOMES[s] for s in got] == expected
    assert expected[:4] == ["approve", "refer", "refer", "decline"]
