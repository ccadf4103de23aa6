"""Drift statistics, library against library, on the same data (the evidence for ADR 0101):
100,000 reference and 100,000 current rows of the 19 model features (training/synth.py
fitted on credit_data; the current rows with the loan amount doubled). Each candidate runs
in a fresh interpreter, so its import time is its own: ours (numpy bins, scipy's rel_entr)
in this environment; Evidently and NannyML in virtualenvs of their own, given by path
(they are not project dependencies).

    .venv/bin/python -m benchmarks.drift_libraries [--rows 100000] \
        [--evidently-python /tmp/ev/bin/python] [--nannyml-python /tmp/nml/bin/python] \
        [--out benchmarks/results/drift_libraries.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Each snippet gets the .npz path as argv[1] and prints one JSON line: import and compute
# seconds, and the statistic for `amount` (shifted) and `age` (not).
PRELUDE = """
import json, sys, time
import numpy as np
d = np.load(sys.argv[1], allow_pickle=False)
ref, cur, names = d["ref"], d["cur"], [str(n) for n in d["names"]]
def frames():
    import pandas as pd
    return pd.DataFrame(ref, columns=names), pd.DataFrame(cur, columns=names)
"""
SNIPPETS = {
    "ours (numpy bins + scipy rel_entr PSI)": """
t = time.perf_counter()
from monitoring.drift import psi
from monitoring.reference import Reference
imp = time.perf_counter() - t
t = time.perf_counter()
r = Reference.fit(ref, names, ref[:, 0], "1")
fit = time.perf_counter() - t
t = time.perf_counter()
out = {n: psi(np.array(r.features[n].counts), r.features[n].count(cur[:, i]))
       for i, n in enumerate(names)}
comp = time.perf_counter() - t
print(json.dumps({"import_s": imp, "reference_fit_s": fit, "compute_s": comp,
                  "statistic": "PSI", "amount": out["amount"], "age": out["age"]}))
""",
    "scipy ks_2samp (raw rows)": """
t = time.perf_counter()
from scipy.stats import ks_2samp
imp = time.perf_counter() - t
t = time.perf_counter()
out = {n: float(ks_2samp(ref[:, i][~np.isnan(ref[:, i])], cur[:, i][~np.isnan(cur[:, i])]).statistic)
       for i, n in enumerate(names)}
comp = time.perf_counter() - t
print(json.dumps({"import_s": imp, "compute_s": comp, "statistic": "KS D",
                  "amount": out["amount"], "age": out["age"]}))
""",
    "evidently DataDriftPreset(method='psi')": """
t = time.perf_counter()
from evidently import Report
from evidently.presets import DataDriftPreset
imp = time.perf_counter() - t
r, c = frames()
t = time.perf_counter()
snap = Report([DataDriftPreset(method="psi")]).run(reference_data=r, current_data=c)
comp = time.perf_counter() - t
vals = {n: float(m["value"]) for m in snap.dict()["metrics"] for n in ("amount", "age")
        if m["metric_name"].startswith(f"ValueDrift(column={n},")}
import evidently
print(json.dumps({"import_s": imp, "compute_s": comp, "statistic": "PSI",
                  "version": evidently.__version__, **vals}))
""",
    "nannyml UnivariateDriftCalculator (jensen_shannon)": """
t = time.perf_counter()
import nannyml as nml
imp = time.perf_counter() - t
r, c = frames()
t = time.perf_counter()
calc = nml.UnivariateDriftCalculator(column_names=names, continuous_methods=["jensen_shannon"],
                                     categorical_methods=["jensen_shannon"], chunk_number=1)
calc.fit(r)
res = calc.calculate(c).filter(period="analysis").to_df()
comp = time.perf_counter() - t
vals = {n: float(res[(n, "jensen_shannon", "value")].iloc[0]) for n in ("amount", "age")}
print(json.dumps({"import_s": imp, "compute_s": comp, "statistic": "Jensen-Shannon distance",
                  "version": nml.__version__, "psi_available": False, **vals}))
""",
}


def data(rows: int, path: Path) -> None:
    from models.features import FEATURE_NAMES, feature_matrix
    from training.data import raw_columns
    from training.synth import Generator

    gen = Generator.fit()
    ref = gen.sample(rows, seed=1)
    cur = gen.sample(rows, seed=2)
    cur["amount"] = cur["amount"] * 2
    np.savez(path, ref=feature_matrix(raw_columns(ref)), cur=feature_matrix(raw_columns(cur)),
             names=np.array(FEATURE_NAMES))


def run(python: str, code: str, npz: Path) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    p = subprocess.run([python, "-c", PRELUDE + code, str(npz)], capture_output=True,
                       text=True, timeout=1800, env=env, cwd=Path(__file__).resolve().parents[1])
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return {k: round(v, 4) if isinstance(v, float) else v
            for k, v in json.loads(p.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--evidently-python")
    ap.add_argument("--nannyml-python")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    pythons = {"ours (numpy bins + scipy rel_entr PSI)": sys.executable,
               "scipy ks_2samp (raw rows)": sys.executable,
               "evidently DataDriftPreset(method='psi')": args.evidently_python,
               "nannyml UnivariateDriftCalculator (jensen_shannon)": args.nannyml_python}
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "data.npz"
        data(args.rows, npz)
        results = {name: run(py, SNIPPETS[name], npz) if py else {"skipped": "no interpreter"}
                   for name, py in pythons.items()}
    report = {"host": {"python": sys.version.split()[0], "platform": platform.platform(),
                       "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
              "rows": args.rows, "features": 19, "results": results}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
