"""The shipped image, Prometheus config, alert rules and dashboard are valid."""

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(promtool is None, reason="promtool not installed "
                                    "(.ci/run installs Debian's prometheus package)")


@needs_promtool
def test_alert_rules_pass_promtool():
    run = subprocess.run([promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@needs_promtool
def test_prometheus_config_passes_promtool(tmp_path):
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "key").write_text("x")
    config = config.replace("/etc/prometheus/alerts.yml", str(tmp_path / "alerts.yml"))
    config = config.replace("/run/secrets/metrics_key", str(tmp_path / "key"))
    (tmp_path / "prometheus.yml").write_text(config)
    run = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_dashboard_queries_only_metrics_we_export():
    """Every metric the dashboard and alerts query is defined in the code."""
    import re

    packages = [p.parent for p in DEPLOY.parent.glob("*/__init__.py")
                if p.parent.name not in ("tests", "benchmarks")]
    code = "\n".join(p.read_text() for d in packages for p in d.rglob("*.py"))
    defined = set(re.findall(r'"(credit_[a-z_]+)"', code))
    queries = json.dumps(json.loads((DEPLOY / "grafana" / "credit-decisions.json").read_text()))
    queries += (DEPLOY / "prometheus" / "alerts.yml").read_text()
    used = {re.sub(r"_(bucket|count|sum)$", "", m) for m in re.findall(r"\b(credit_[a-z_]+)", queries)}
    missing = {m for m in used if m not in defined and m.removesuffix("_total") not in defined}
    assert not missing, f"queried but not exported: {sorted(missing)}"


def test_compose_sets_only_settings_that_exist():
    """Every CREDIT_* variable the stack sets on our image is a setting (pydantic would ignore a
    misspelt one, silently running another configuration), and the stack's settings
    validate."""
    import yaml

    from app.settings import Settings

    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    env = {k: v for s in services.values() if "build" in s  # our image, not postgres'
           for k, v in s["environment"].items() if k.startswith("CREDIT_")}
    unknown = {k for k in env if k.removeprefix("CREDIT_").lower() not in Settings.model_fields}
    assert not unknown, f"not settings: {sorted(unknown)}"
    api = {k.removeprefix("CREDIT_").lower(): v for k, v in services["api-1"]["environment"].items()
           if k.startswith("CREDIT_")}
    assert Settings(**api).audit_store == "postgres"


def test_every_package_is_in_the_image_and_the_security_check():
    """A package the project installs but the Dockerfile does not copy breaks the image at
    its first import; one that bandit does not scan is never checked."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert packages == copied
    for script in (ROOT / ".ci" / "run", ROOT / "Makefile"):
        scanned = re.search(r"bandit -q -r ([\w \\\n]+)", script.read_text()).group(1)
        assert packages <= set(scanned.replace("\\", " ").split()), script.name
