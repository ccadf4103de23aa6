"""`credit serve` as an operator runs it: with nothing configured it starts the simulators
beside the API, and SIGTERM stops both (the simulators' port is free again)."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx

from tests.conftest import fresh_data_dir
from tests.servers import free_port, wait_http


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_stops_the_api_and_its_simulators(trained, tmp_path):
    data_dir = fresh_data_dir(trained, tmp_path)
    api, sims = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(CREDIT_DATA_DIR=str(data_dir), CREDIT_PORT=str(api),
               CREDIT_SIMULATOR_PORT=str(sims))
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], env=env,
                            cwd=tempfile.mkdtemp(prefix="serve-"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{api}/healthz", proc)
        assert httpx.get(f"http://127.0.0.1:{sims}/healthz").status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while port_open(sims) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not port_open(sims) and not port_open(api)
    finally:
        if proc.poll() is None:
            proc.kill()
