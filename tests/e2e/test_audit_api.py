"""The audit trail as seen from outside: a real API process, real simulators, real model.
Idempotency under 100 concurrent identical requests, the auditor endpoints, and kill -9
under load losing no answered decision."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.simulators.server import application_for_row
from tests import servers
from tests.conftest import api_env, auth, fresh_data_dir
from training.data import load_credit_data


@pytest.fixture(scope="module")
def df():
    return load_credit_data()


@pytest.fixture(scope="module")
def audit_api(trained, simulators_url, tmp_path_factory):
    data_dir = fresh_data_dir(trained, tmp_path_factory.mktemp("audit-api"))
    env = api_env(data_dir, simulators_url, CREDIT_AUDIT_DIGEST_INTERVAL_S="0.3")
    with servers.api(env, log=data_dir / "api.log") as base:
        yield base, data_dir, auth(data_dir)


def test_100_concurrent_identical_requests_make_one_record(audit_api, df):
    """One record for the application, and all 100 responses byte-identical."""
    base, data_dir, headers = audit_api
    body = application_for_row(11, df, application_id="SAME-100")
    barrier = threading.Barrier(100)

    def post(_):
        with httpx.Client(base_url=base, timeout=30, headers=headers) as c:
            barrier.wait()
            return c.post("/v1/decisions", json=body)

    with ThreadPoolExecutor(100) as pool:
        responses = list(pool.map(post, range(100)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    conn = sqlite3.connect(data_dir / "audit.db")
    assert conn.execute("SELECT COUNT(*) FROM entries WHERE application_id='SAME-100'"
                        ).fetchone()[0] == 1


def test_verify_and_latest_digest_endpoints(audit_api, df):
    """GET /v1/audit/verify is OK; the latest digest is signed and covers this chain."""
    base, _, headers = audit_api
    with httpx.Client(base_url=base, timeout=30, headers=headers) as c:
        d = c.post("/v1/decisions", json=application_for_row(12, df, application_id="V-12"))
        rec = c.get(f"/v1/decisions/{d.json()['decision_id']}").json()
        time.sleep(0.8)  # a periodic digest after this decision
        v = c.get("/v1/audit/verify").json()
        digest = c.get("/v1/audit/digests/latest").json()
        part = c.get("/v1/audit/verify", params={"chain_id": rec["chain"]["chain_id"],
                                                 "from_seq": rec["chain"]["seq"]}).json()
        assert c.get("/v1/audit/verify", params={"from_seq": 0}).status_code == 422
    assert v["ok"] and v["checked"] >= 2 and v["complete_until"] and v["anchored_until"]
    assert part["ok"] and part["checked"] >= 1
    head = next(h for h in digest["heads"] if h["chain_id"] == rec["chain"]["chain_id"])
    assert head["seq"] >= rec["chain"]["seq"]
    assert "PUBLIC KEY" in digest["public_key_pem"] and len(digest["signature"]) == 128
    assert rec["schema_version"] == 2 and "applicant" not in rec["application"]
    assert rec["personal"]["key_ref"] == rec["application"]["key_ref"]
    assert rec["personal_data"]["inputs"]["features"]


def test_kill_9_under_load_loses_no_answered_decision(trained, simulators_url, df, tmp_path):
    """SIGKILL mid-load: every decision that got a 200 is in the log exactly once; verify
    passes against the last signed digest; a restarted server goes on."""
    data_dir = fresh_data_dir(trained, tmp_path)
    env = api_env(data_dir, simulators_url, CREDIT_AUDIT_DIGEST_INTERVAL_S="0.2")
    headers = auth(data_dir)
    proc, base = servers.start_api(env)
    answered: list[dict] = []
    stop = threading.Event()
    try:

        def load(worker):
            with httpx.Client(base_url=base, timeout=10, headers=headers) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    body = application_for_row(1 + (worker * 97 + i) % 4000, df,
                                               application_id=f"K-{worker}-{i}")
                    try:
                        r = c.post("/v1/decisions", json=body)
                    except httpx.TransportError:
                        return
                    if r.status_code == 200:
                        answered.append(r.json())

        threads = [threading.Thread(target=load, args=(w,)) for w in range(16)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(answered) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=15)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    assert len(answered) >= 50
    conn = sqlite3.connect(data_dir / "audit.db")
    for d in answered:
        assert conn.execute("SELECT COUNT(*) FROM entries WHERE decision_id=?",
                            (d["decision_id"],)).fetchone()[0] == 1
    cli_env = {**os.environ, **env}
    v = subprocess.run([sys.executable, "-m", "app.cli", "audit", "verify"], env=cli_env,
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stderr
    assert "digest of" in v.stderr
    with servers.api(env) as again, httpx.Client(base_url=again, timeout=30, headers=headers) as c:
        assert c.post("/v1/decisions", json=application_for_row(
            3, df, application_id="AFTER-KILL")).status_code == 200
        assert c.get("/v1/audit/verify").json()["ok"]
