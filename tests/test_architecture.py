"""The layering of docs/architecture.md, as import-linter contracts (pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = str(Path(sys.executable).with_name("lint-imports"))
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "root_packages"]


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_no_import_runs_against_the_layers():
    """Every contract is kept: zero imports against the layering."""
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_a_wrong_way_import_fails_the_check(tmp_path):
    """The check can fail: a copy of the tree with one domain module importing the shell's
    settings breaks the layers contract, naming the import."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.html", "*.css"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    scorer = tmp_path / "models" / "scorer.py"
    scorer.write_text(scorer.read_text() + "\nfrom app.settings import Settings  # wrong way\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "models.scorer -> app.settings" in result.stdout
