"""`credit` starts without the heavy libraries that only scoring, monitoring and backtests
use (ADR 0152): they are imported where those parts are built."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("lightgbm", "sklearn", "scipy", "pandas", "mlflow", "shap", "dask", "fastapi")


def test_the_cli_imports_none_of_the_heavy_libraries():
    probe = ("import sys, app.cli; "
             f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       timeout=60, check=True)
    assert r.stdout.strip() == ""

