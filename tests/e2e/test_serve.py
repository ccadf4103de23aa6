"""`credit serve` as an operator runs it: with nothing configured it starts the simulators
and the background passes beside the API; the passes' process comes back after a crash, and
SIGTERM stops all of them (the simulators' port is free again, no process is left)."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import fresh_data_dir
from tests.servers import free_port, wait_http


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def background_of(pid: int) -> int | None:
    """The pid of `credit background` among the children of `pid`, if one runs."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):  # gone meanwhile
            continue
        if ppid == pid and cmdline.endswith(b"app.cli\0background\0"):
            return int(stat.parent.name)
    return None


def nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def wait_for(check, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


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
        first = wait_for(lambda: background_of(proc.pid))
        assert first is not None
        # Field 19 of stat(5), the niceness: it lowers its own priority once its settings
        # are read, a moment after it starts.
        assert wait_for(lambda: nice_of(first) == 10)
        os.kill(first, signal.SIGKILL)  # a crash: started again after 5 s
        second = wait_for(lambda: (b := background_of(proc.pid)) != first and b)
        assert second and second != first
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert wait_for(lambda: not port_open(sims), 10) and not port_open(api)
        assert wait_for(lambda: not Path(f"/proc/{second}").exists(), 10)
    finally:
        if proc.poll() is None:
            proc.kill()
