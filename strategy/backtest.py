"""Backtest: re-decide the recorded history under a candidate policy and/or model version,
on Dask (dask.distributed: a local cluster by default, an existing one by address; ADR 0132).

Each partition (a Parquet part of strategy/history.py's table) is decided at once: the
feature function on its raw columns, LightGBM on the whole batch, the policy's rules
vectorised (decision.policy.Policy.decide_batch, which tests hold equal to the per-decision
rules). Partitions return small count tables; the client adds them up. Models travel to the
workers as LightGBM model strings with their calibration (no registry access needed there).

Report per country and overall: recorded and candidate approve/refer/decline rates, the bad
rate among approved where outcomes exist (Wilson 95% intervals), the swap sets (recorded ->
candidate) with counts and observed bad rates, and how many decisions the candidate
reproduces (all of them, for today's policy and the recorded model versions).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from decision.policy import OUTCOMES, Policy
from models.features import CATEGORIES, FEATURE_NAMES, NUMERIC_FIELDS, feature_matrix
from models.registry import LoadedModel
from monitoring.stats import wilson
from strategy.history import SOURCES, VELOCITY

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
GROUP = ["country", "decided_by", "recorded", "candidate"]


@dataclass(frozen=True)
class ShippedModel:
    """A model version as workers receive it."""

    version: str
    model_str: str
    a: float
    b: float

    @classmethod
    def of(cls, model: LoadedModel) -> ShippedModel:
        cal = model.meta.get("calibration") or {}
        return cls(model.version, model.booster.model_to_string(), float(cal.get("a", 1.0)),
                   float(cal.get("b", 0.0)))

    @property
    def key(self) -> str:
        return hashlib.sha256(self.model_str.encode()).hexdigest()


@dataclass(frozen=True)
class Candidate:
    policy_text: str
    models: dict[str, ShippedModel]  # version -> model
    model_version: str | None = None  # None: each decision's recorded version

    @property
    def policy(self) -> Policy:
        return _policy(self.policy_text)


@functools.lru_cache(maxsize=8)
def _policy(text: str) -> Policy:
    return Policy.from_text(text)


@functools.lru_cache(maxsize=8)
def _booster(key: str, model_str: str) -> Any:
    import lightgbm as lgb

    return lgb.Booster(model_str=model_str)


def probabilities(model: ShippedModel, x: np.ndarray) -> np.ndarray:
    """Calibrated probabilities of a batch: the serving Scorer's formula on the same raw
    scores (the same trees, summed in the same order)."""
    raw = _booster(model.key, model.model_str).predict(x, raw_score=True, num_threads=1)
    return 1.0 / (1.0 + np.exp(-(model.a * raw + model.b)))


def decide_partition(df: pd.DataFrame, candidate: Candidate) -> pd.DataFrame:
    """One partition: re-decided, then counted by (country, arm, recorded, candidate)."""
    if df.empty:
        return _empty()
    x = feature_matrix(_raw(df))
    versions = (np.full(len(df), candidate.model_version, dtype=object)
                if candidate.model_version else df["model_version"].to_numpy())
    p = np.full(len(df), np.nan)
    for version in pd.unique(versions):
        m = versions == version
        p[m] = probabilities(candidate.models[str(version)], x[m])
    policy = candidate.policy
    out = np.zeros(len(df), dtype=np.int8)
    countries = df["country"].to_numpy()
    for country in pd.unique(countries):
        m = countries == country
        out[m] = policy.decide_batch(
            str(country), p[m], {k: x[m, _COL[k]] for k in ("amount", "price", "age", "time",
                                                         "income")},
            x[m, _COL["payment_to_income"]],
            {s: df[f"{s}_degraded"].to_numpy(dtype=bool)[m] for s in SOURCES},
            {v: df[v].to_numpy()[m] for v in VELOCITY})
    frame = pd.DataFrame({
        "country": countries, "decided_by": df["decided_by"].to_numpy(),
        "recorded": df["recorded"].to_numpy(dtype=np.int8), "candidate": out,
        "n": 1, "with_outcome": (~np.isnan(df["defaulted"].to_numpy())).astype(np.int64),
        "bad": np.nan_to_num(df["defaulted"].to_numpy()).astype(np.int64),
        "pd_diff": np.abs(np.nan_to_num(p - df["recorded_pd"].to_numpy(), nan=0.0))})
    return frame.groupby(GROUP, as_index=False).agg(
        n=("n", "sum"), with_outcome=("with_outcome", "sum"), bad=("bad", "sum"),
        pd_diff=("pd_diff", "max"))


def _raw(df: pd.DataFrame) -> dict[str, Any]:
    """The partition's raw columns as the feature function takes them: numbers as float
    arrays (NaN: missing), categories as strings or None (whatever missing marker the
    Parquet reader gave)."""
    cols: dict[str, Any] = {f: df[f].to_numpy(dtype=np.float64, na_value=np.nan)
                            for f in NUMERIC_FIELDS}
    for f in CATEGORIES:
        values = df[f].astype(object)
        cols[f] = values.where(values.notna(), None).tolist()
    return cols


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"country": pd.Series(dtype=object),
                         "decided_by": pd.Series(dtype=object),
                         "recorded": pd.Series(dtype=np.int8),
                         "candidate": pd.Series(dtype=np.int8),
                         "n": pd.Series(dtype=np.int64),
                         "with_outcome": pd.Series(dtype=np.int64),
                         "bad": pd.Series(dtype=np.int64),
                         "pd_diff": pd.Series(dtype=np.float64)})


def run(parts: list[str], candidate: Candidate, client: Any = None) -> pd.DataFrame:
    """Every part re-decided on the cluster (`client`: a dask.distributed Client; None: this
    process's threads); the count table summed over partitions."""
    import dask
    import dask.dataframe as dd

    if not parts:
        return _empty()
    ddf = dd.read_parquet(parts)
    counts = ddf.map_partitions(decide_partition, candidate, meta=_empty())
    if client is not None:
        result = client.compute(counts).result()
    else:
        with dask.config.set(scheduler="threads"):
            result = counts.compute()
    return result.groupby(GROUP, as_index=False).agg(
        n=("n", "sum"), with_outcome=("with_outcome", "sum"), bad=("bad", "sum"),
        pd_diff=("pd_diff", "max"))


# -- the report -------------------------------------------------------------------------------

@dataclass
class Report:
    candidate_policy: str
    candidate_model: str | None
    decisions: int
    scopes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"candidate_policy": self.candidate_policy,
                "candidate_model": self.candidate_model or "recorded versions",
                "decisions": self.decisions, "scopes": self.scopes}


def _rate(k: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"rate": None, "ci95": None, "n": 0}
    lo, hi = wilson(k, n)
    return {"rate": k / n, "ci95": [lo, hi], "n": n}


def _scope(c: pd.DataFrame) -> dict[str, Any]:
    n = int(c["n"].sum())
    out: dict[str, Any] = {"decisions": n}
    for side in ("recorded", "candidate"):
        by = c.groupby(side)[["n", "with_outcome", "bad"]].sum()
        rates = {OUTCOMES[i]: (int(by.loc[i, "n"]) / n if i in by.index else 0.0)
                 for i in range(3)}
        appr = by.loc[0] if 0 in by.index else None
        bad = (_rate(int(appr["bad"]), int(appr["with_outcome"])) if appr is not None
               else _rate(0, 0))
        out[side] = {"rates": rates, "bad_rate_approved": bad}
    swaps = []
    for (r, k), g in c.groupby(["recorded", "candidate"]):
        if r == k:
            continue
        swaps.append({"from": OUTCOMES[int(r)], "to": OUTCOMES[int(k)],
                      "count": int(g["n"].sum()),
                      "bad_rate": _rate(int(g["bad"].sum()), int(g["with_outcome"].sum()))})
    out["swaps"] = sorted(swaps, key=lambda s: -s["count"])
    model = c[c["decided_by"] == "model"]
    out["model_decided"] = int(model["n"].sum())
    # Decided by the legacy scorecard (legacy/shadow/canary rollout): the candidate is the
    # model with the candidate policy, so these differ wherever the two arms disagree.
    out["legacy_decided"] = n - out["model_decided"]
    out["reproduced"] = int(model.loc[model["recorded"] == model["candidate"], "n"].sum())
    out["max_probability_difference"] = (float(model["pd_diff"].max()) if len(model) else None)
    return out


def report(counts: pd.DataFrame, candidate: Candidate) -> Report:
    r = Report(candidate.policy.version, candidate.model_version, int(counts["n"].sum()))
    if len(counts):
        r.scopes["all"] = _scope(counts)
        for country, c in counts.groupby("country"):
            r.scopes[str(country)] = _scope(c)
    return r
