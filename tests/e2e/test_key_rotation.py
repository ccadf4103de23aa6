"""Master-key rotation while serving (docs/runbooks/key-rotation.md), with real API processes
restarted one after another under load: zero 5xx, and every customer's records readable with
the new master key alone at the end. The rotation command refuses to run on the wrong keys."""

import base64
import os
import secrets
import subprocess
import sys
import threading
import time

import httpx

from app.simulators.server import application_for_row
from tests import servers
from tests.conftest import api_env, auth, fresh_data_dir

ROWS = list(range(40, 70))  # customers who come back again and again
PAUSE_S = 0.02


def b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


class Load(threading.Thread):
    """Decisions in a loop against whichever API processes are up (round robin), paced
    (PAUSE_S between them): a steady stream, not a flood that slows every process start."""

    def __init__(self, headers):
        super().__init__(daemon=True)
        self.urls: list[str] = []
        self.headers = headers
        self.statuses: list[int] = []
        self.ids: list[str] = []
        self.stop = threading.Event()

    def run(self):
        i = 0
        with httpx.Client(headers=self.headers, timeout=30) as c:
            while not self.stop.is_set():
                urls = list(self.urls)
                if not urls:
                    time.sleep(0.05)
                    continue
                row = ROWS[i % len(ROWS)] if i % 4 else 500 + i  # a new customer now and then
                body = application_for_row(row, application_id=f"ROT-{i}")
                try:
                    r = c.post(f"{urls[i % len(urls)]}/v1/decisions", json=body)
                except httpx.TransportError:  # a process being stopped: not a 5xx
                    i += 1
                    continue
                self.statuses.append(r.status_code)
                if r.status_code == 200:
                    self.ids.append(r.json()["decision_id"])
                i += 1
                time.sleep(PAUSE_S)


def test_rotation_while_serving(trained, simulators_url, tmp_path):
    data_dir = fresh_data_dir(trained, tmp_path)
    old, new = b64(), b64()
    headers = auth(data_dir)
    load = Load(headers)
    steps = [{"CREDIT_AUDIT_MASTER_KEY": old},
             {"CREDIT_AUDIT_MASTER_KEY": old, "CREDIT_AUDIT_OTHER_MASTER_KEYS": new},
             {"CREDIT_AUDIT_MASTER_KEY": new, "CREDIT_AUDIT_OTHER_MASTER_KEYS": old},
             "rotate",
             {"CREDIT_AUDIT_MASTER_KEY": new}]
    running: list[tuple[subprocess.Popen, str]] = []
    load.start()
    try:
        for step in steps:
            if step == "rotate":
                cli = {**os.environ, "CREDIT_DATA_DIR": str(data_dir), **steps[2]}
                r = subprocess.run([sys.executable, "-m", "app.cli", "audit",
                                    "rotate-master-key"], env=cli, capture_output=True,
                                   text=True, timeout=120)
                assert r.returncode == 0 and "re-wrapped" in r.stderr, r.stderr
                assert "refused" not in r.stderr
                continue
            # The next process comes up beside the running one (a rolling restart).
            proc, url = servers.start_api(api_env(data_dir, simulators_url, **step))
            running.append((proc, url))
            load.urls.append(url)
            time.sleep(2)
            if len(running) > 1:
                old_proc, old_url = running.pop(0)
                load.urls.remove(old_url)
                old_proc.terminate()
                old_proc.wait(timeout=30)
        time.sleep(2)
    finally:
        load.stop.set()
        load.join(timeout=60)
    try:
        (_, url), = running
        assert len(load.ids) > 20 and not [s for s in load.statuses if s >= 500]
        with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
            unreadable = [d for d in load.ids
                          if c.get(f"/v1/decisions/{d}").json()["personal_data"] is None]
        assert unreadable == []
    finally:
        for proc, _ in running:
            proc.terminate()
            proc.wait(timeout=30)


def test_rotation_refuses_the_wrong_keys(trained, tmp_path):
    """Without CREDIT_AUDIT_MASTER_KEY, or without the master that wrapped some key, the
    command refuses and changes nothing."""
    from app.builder import Builder
    from app.settings import Settings

    data_dir = fresh_data_dir(trained, tmp_path)
    b = Builder(Settings(data_dir=data_dir))  # the default master, from the key file
    b.cipher.key_for("cust-1")
    b.close()
    env = {**os.environ, "CREDIT_DATA_DIR": str(data_dir)}

    def rotate(**extra):
        return subprocess.run([sys.executable, "-m", "app.cli", "audit", "rotate-master-key"],
                              env={**env, **extra}, capture_output=True, text=True, timeout=120)

    unset = rotate()
    assert unset.returncode == 2 and "CREDIT_AUDIT_MASTER_KEY is not set" in unset.stderr
    wrong = rotate(CREDIT_AUDIT_MASTER_KEY=b64())
    assert wrong.returncode == 1 and "1 of 1 keys" in wrong.stderr and "nothing" in wrong.stderr
    old = base64.b64encode((data_dir / "keys" / "audit-master.key").read_bytes()).decode()
    ok = rotate(CREDIT_AUDIT_MASTER_KEY=b64(), CREDIT_AUDIT_OTHER_MASTER_KEYS=old)
    assert ok.returncode == 0 and "re-wrapped 1 of 1" in ok.stderr
