"""Backtest at scale: 1,000,000 synthetic recorded decisions re-decided under a candidate
policy by `credit backtest` on a local Dask cluster; JSON report. Run by hand (not in tests):

    .venv/bin/python benchmarks/backtest.py --rows 1000000 --out benchmarks/results/backtest.json

The recorded decisions are synthetic: applications from the generator behind `credit data
synth` (fitted on credit_data), spread over the eight countries, with velocity counts and a
few degraded sources, decided by a freshly trained model under today's policy (recorded
outcome and probability), and an outcome (the generator's label) for each approval. They are
written in the history's own format (strategy/history.py), the table `credit backtest`
extracts from the audit log; the timed command reads it with `--history` (reading 1,000,000
records from an audit log is not part of this measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from app.builder import Builder
from app.settings import Settings
from decision.application import COUNTRIES
from decision.policy import Policy
from models.dataset import LABEL, raw_columns
from models.features import FEATURE_NAMES, FEATURE_SET_VERSION, feature_matrix
from strategy.backtest import ShippedModel, probabilities
from strategy.history import COLUMNS, SOURCES, VELOCITY
from training.synth import Generator
from training.train import TrainConfig, train

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def recorded_history(rows: int, model: ShippedModel, out: Path, part_rows: int) -> dict:
    """Synthetic recorded decisions as history parts; what they hold."""
    rng = np.random.default_rng(11)
    apps = Generator.fit().sample(rows, seed=7).reset_index(drop=True)
    policy = Policy.load()
    out.mkdir(parents=True, exist_ok=True)
    approvals = bads = parts = 0
    for start in range(0, len(apps), part_rows):
        a = apps.iloc[start:start + part_rows].reset_index(drop=True)
        m = len(a)
        df = a.drop(columns=[LABEL])
        df["decision_id"] = [f"SYN-{start + i}" for i in range(m)]
        df["decided_at"] = "2026-10-01T12:00:00+00:00"
        df["country"] = np.array(COUNTRIES)[rng.integers(0, len(COUNTRIES), m)]
        df["decided_by"] = "model"
        df["model_version"] = model.version
        df["feature_set_version"] = FEATURE_SET_VERSION
        df["policy_version"] = policy.version
        for s in SOURCES:
            df[f"{s}_degraded"] = rng.random(m) < 0.01
        for v in VELOCITY:
            df[v] = np.where(rng.random(m) < 0.02, rng.integers(6, 9, m), rng.integers(0, 3, m))
        # What was decided: today's policy on the model, through the vectorised path (its
        # equality with the per-decision path is a test, not this benchmark's business).
        x = feature_matrix(raw_columns(df))
        df["recorded_pd"] = probabilities(model, x)
        outcome = np.zeros(m, dtype=np.int8)
        for c in COUNTRIES:
            k = (df["country"] == c).to_numpy()
            outcome[k] = policy.decide_batch(
                c, df["recorded_pd"].to_numpy()[k],
                {f: x[k, _COL[f]] for f in ("amount", "price", "age", "time", "income")},
                x[k, _COL["payment_to_income"]],
                {s: df[f"{s}_degraded"].to_numpy()[k] for s in SOURCES},
                {v: df[v].to_numpy()[k] for v in VELOCITY})
        df["recorded"] = outcome
        approved = outcome == 0
        df["defaulted"] = np.where(approved, a[LABEL].to_numpy(dtype=float), np.nan)
        approvals += int(approved.sum())
        bads += int(a.loc[approved, LABEL].sum())
        df[list(COLUMNS)].to_parquet(out / f"part-{parts:05d}.parquet", index=False)
        parts += 1
    return {"rows": len(apps), "parts": parts, "recorded_approvals": approvals,
            "recorded_bad_among_approved": bads}


def strict(text: str) -> str:
    """The candidate: approve_below 0.15 everywhere."""
    out = text.replace('version = "2026.11.3"', 'version = "bench-candidate"')
    for v in ("0.25", "0.22", "0.20"):
        out = out.replace(f"approve_below = {v}", "approve_below = 0.15")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--part-rows", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/backtest.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        settings = Settings(data_dir=data)
        t = time.perf_counter()
        result = train(Builder(settings).registry, alias="champion",
                       config=TrainConfig(trials=2, cv_folds=0, n_boot=20, explain_rows=200))
        train_s = time.perf_counter() - t
        model = ShippedModel.of(Builder(settings).registry.load(result.version))
        t = time.perf_counter()
        held = recorded_history(args.rows, model, Path(tmp) / "history", args.part_rows)
        setup_s = time.perf_counter() - t
        policy = Path(tmp) / "candidate.toml"
        policy.write_text(strict(Policy.load().text or ""))
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "app.cli", "backtest", "--policy", str(policy), "--history",
             str(Path(tmp) / "history"), "--workers", str(args.workers), "--json"],
            env={**os.environ, "CREDIT_DATA_DIR": str(data)}, capture_output=True, text=True)
        command_s = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"credit backtest failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout)
    s = out["scopes"]["all"]
    report = {
        "rows": held["rows"], "history": held,
        "command": "credit backtest --policy candidate.toml --history DIR --workers "
                   f"{args.workers} --json",
        "command_wall_seconds": round(command_s, 2),
        "command_internal_seconds": out["seconds"],
        "target_seconds": 300, "target_met": command_s < 300,
        "decisions_per_second": round(held["rows"] / out["seconds"]["backtest_s"]),
        "recorded_rates": s["recorded"]["rates"], "candidate_rates": s["candidate"]["rates"],
        "recorded_bad_rate_approved": s["recorded"]["bad_rate_approved"],
        "candidate_bad_rate_approved": s["candidate"]["bad_rate_approved"],
        "swaps": s["swaps"],
        "setup_seconds": {"train": round(train_s, 2), "synthesize_and_record": round(setup_s, 2)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
