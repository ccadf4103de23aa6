"""An API process for the audit e2e tests, with a start-up allowance that holds on a busy
machine (tests/servers.py waits 60 s; a loaded 2-core box can need more)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests import servers

START_S = 240.0


def start_api(env: dict[str, str], log: Path | None = None) -> tuple[subprocess.Popen, str]:
    port = servers.free_port()
    base = f"http://127.0.0.1:{port}"
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app_from_env",
                             "--factory", "--port", str(port), "--log-level", "warning"],
                            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        servers.wait_http(f"{base}/healthz", proc, timeout_s=START_S)
    except BaseException:
        proc.kill()
        raise
    return proc, base


@contextmanager
def api(env: dict[str, str], log: Path | None = None) -> Iterator[str]:
    proc, base = start_api(env, log)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
