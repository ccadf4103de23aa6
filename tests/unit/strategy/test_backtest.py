"""The backtest's partition step and report on a tiny real model, in this process's threads
(the cluster runs are in tests/integration/test_backtest.py)."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from decision.policy import OUTCOMES, Policy
from models.features import FEATURE_NAMES, as_dict, feature_row
from models.registry import LoadedModel
from models.scorer import Scorer
from strategy.backtest import Candidate, ShippedModel, decide_partition, report, run
from strategy.history import COLUMNS, OUTCOME_CODE, frame
from training.data import LABEL, features_of, load_credit_data


@pytest.fixture(scope="module")
def model():
    df = load_credit_data()
    x, y = features_of(df), df[LABEL].to_numpy()
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7},
                        lgb.Dataset(x, y, feature_name=list(FEATURE_NAMES)), 20)
    return LoadedModel("m", "1", "r", booster, {"calibration": {"a": 0.9, "b": -0.1}})


def history(model, n=400, country="ES"):
    """Recorded decisions made by the per-decision path (Scorer + Policy.decide)."""
    df = load_credit_data().iloc[:n]
    scorer, policy = Scorer(model), Policy.load()
    rows = []
    for i, raw in enumerate(df.drop(columns=[LABEL]).to_dict("records")):
        raw = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in raw.items()}
        x = feature_row(raw)
        p = scorer.score(x, explain=True).probability
        velocity = {"customer_applications_24h": 7 if i % 50 == 0 else 0,
                    "national_id_applications_24h": 0}
        degraded = ["bureau"] if i % 40 == 0 else []
        outcome = policy.decide(country, p, raw, as_dict(x), degraded, velocity).outcome
        rows.append({**{c: None for c in COLUMNS}, **raw, **velocity,
                     "decision_id": f"D{i}", "country": country, "decided_by": "model",
                     "model_version": "1", "feature_set_version": "x",
                     "policy_version": policy.version, "recorded": OUTCOME_CODE[outcome],
                     "recorded_pd": p, "bureau_degraded": bool(degraded),
                     "open_banking_degraded": False,
                     "defaulted": float(df.iloc[i][LABEL]) if outcome == "approve" else np.nan})
    return frame(rows)


def test_todays_policy_reproduces_the_per_decision_path(model, tmp_path):
    h = history(model)
    candidate = Candidate(Policy.load().text or "", {"1": ShippedModel.of(model)})
    counts = decide_partition(h, candidate)
    assert int(counts["n"].sum()) == len(h)
    assert (counts["recorded"] == counts["candidate"]).all()
    assert counts["pd_diff"].max() < 1e-12
    h.to_parquet(tmp_path / "part-00000.parquet")
    out = report(run([str(tmp_path / "part-00000.parquet")], candidate), candidate).to_json()
    s = out["scopes"]["all"]
    assert s["reproduced"] == s["model_decided"] == len(h) and s["swaps"] == []
    assert s["recorded"]["rates"] == s["candidate"]["rates"]
    assert len({k for k, v in s["recorded"]["rates"].items() if v > 0}) == 3


def test_swap_sets_count_and_observed_bad_rates(model, tmp_path):
    h = history(model)
    strict = (Policy.load().text or "").replace("approve_below = 0.25", "approve_below = 0.0")
    candidate = Candidate(strict.replace('version = "2026.11.3"', 'version = "s"'),
                          {"1": ShippedModel.of(model)})
    h.to_parquet(tmp_path / "part-00000.parquet")
    s = report(run([str(tmp_path / "part-00000.parquet")], candidate), candidate).to_json()
    s = s["scopes"]["ES"]
    approved = h[h["recorded"] == 0]
    swap = next(w for w in s["swaps"] if (w["from"], w["to"]) == ("approve", "refer"))
    assert swap["count"] == len(approved)
    assert swap["bad_rate"]["rate"] == pytest.approx(approved["defaulted"].mean())
    assert swap["bad_rate"]["ci95"][0] < swap["bad_rate"]["rate"] < swap["bad_rate"]["ci95"][1]
    assert s["candidate"]["rates"]["approve"] == 0
    assert s["candidate"]["bad_rate_approved"]["rate"] is None  # no approvals: no bad rate
    assert OUTCOMES[0] == "approve"


def test_missing_values_of_any_kind_are_missing(model):
    """Categories read back as NaN, None or pd.NA all mean missing, as in serving."""
    h = history(model, n=60)
    h.loc[0, "home"], h.loc[1, "home"] = np.nan, pd.NA
    candidate = Candidate(Policy.load().text or "", {"1": ShippedModel.of(model)})
    assert int(decide_partition(h, candidate)["n"].sum()) == 60
