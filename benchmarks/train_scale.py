"""Scale run: synthesize N applications, train the full pipeline on them, report per-step
times and peak memory as JSON. Run by hand (not in tests):

    .venv/bin/python benchmarks/train_scale.py --rows 1000000 --out benchmarks/results/train_scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from app.builder import Builder
from app.settings import Settings
from training.steps import Steps
from training.synth import Generator, write
from training.train import TrainConfig, train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--cv-folds", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/train_scale.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        path = write(Generator.fit().sample(args.rows, seed=7), Path(tmp) / "synth.parquet")
        synth_s = time.perf_counter() - t
        steps = Steps(on_end=lambda n, s, note: print(f"{n:<15} {s:8.2f}s  {note}", flush=True))
        config = TrainConfig(data_path=path, trials=args.trials, cv_folds=args.cv_folds,
                             n_boot=100, tune_budget_s=120)
        result = train(Builder(Settings(data_dir=Path(tmp) / "data")).registry, config=config, steps=steps)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {"rows": args.rows, "synth_seconds": round(synth_s, 2),
              "step_seconds": {k: round(v, 2) for k, v in result.seconds.items()},
              "total_seconds": round(synth_s + sum(result.seconds.values()), 2),
              "peak_rss_mb": round(peak_mb), "test_roc_auc": result.test["roc_auc"],
              "legacy_relative_reduction": result.legacy["relative_reduction"],
              "gates_passed": result.gates_passed, "config": {"trials": args.trials,
                                                              "cv_folds": args.cv_folds},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
