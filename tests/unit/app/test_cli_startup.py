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


def test_the_builder_still_builds_what_needs_them(tmp_path):
    """The lazily imported parts are there when asked for."""
    from app.builder import Builder
    from app.settings import Settings

    b = Builder(Settings(data_dir=tmp_path, monitoring_refresh_s=0))
    try:
        assert type(b.monitor).__name__ == "Monitor"
        assert type(b.new_registry()).__name__ == "ModelRegistry"
    finally:
        b.close()
