"""Schemathesis against the running API's OpenAPI document, with every check."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import servers
from tests.conftest import api_env, create_key, fresh_data_dir

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.mark.slow
def test_openapi_conformance_all_checks(trained, simulators_url, tmp_path):
    data = fresh_data_dir(trained, tmp_path)
    key = create_key(data)
    # Generated requests reuse customers; the probing limit is tested in test_security.py.
    env = api_env(data, simulators_url, CREDIT_RATE_LIMIT_PER_CUSTOMER="1000000/minute")
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli, "schemathesis is a dev dependency"
    with servers.api(env, log=tmp_path / "api.log") as url:
        run = subprocess.run(
            # Seeded and without an example database: the same cases on every run (ADR 0062).
            [cli, "--config-file", str(CONFIG), "run", f"{url}/openapi.json", "--checks", "all",
             "--max-examples", "40",
             "--seed", "20261126", "--generation-database", "none",
             "-H", f"Authorization: Bearer {key}",
             "--report", "junit", "--report-dir", str(ARTIFACTS)],
            capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:]
    assert "Test cases:" in run.stdout
