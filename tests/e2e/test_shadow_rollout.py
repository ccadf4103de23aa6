"""Rollout across two API processes sharing a Redis flag store (real redis-server)."""

import os
import subprocess
import sys
import time
from contextlib import ExitStack

import httpx
import orjson
import pytest

from app.simulators.server import application_for_row
from feature_flags.bucketing import Bucketer
from tests import servers
from tests.conftest import api_env, create_key, fresh_data_dir
from training.data import load_credit_data

KEY = "e2e-shared-bucket-key-0123456789abcdef"


@pytest.fixture(scope="module")
def shared_dir(trained, tmp_path_factory):
    return fresh_data_dir(trained, tmp_path_factory.mktemp("rollout"))


@pytest.fixture(scope="module")
def workers(shared_dir, simulators_url, redis_process):
    """Two API processes (two 'workers') on one data dir and one Redis flag store, started
    once for this module (each test sets the flags it needs first)."""
    data_dir = shared_dir
    env = api_env(data_dir, simulators_url, CREDIT_FLAG_STORE="redis",
                  CREDIT_REDIS_URL=redis_process[0], CREDIT_BUCKET_KEY=KEY,
                  CREDIT_FLAG_POLL_INTERVAL_S="0.2")
    with ExitStack() as stack:
        urls = [stack.enter_context(servers.api(env, log=data_dir / f"api{i}.log"))
                for i in range(2)]
        headers = {"Authorization": f"Bearer {create_key(data_dir, name='e2e')}"}
        clients = [stack.enter_context(httpx.Client(base_url=u, timeout=10, headers=headers))
                   for u in urls]
        yield clients, env


def wait_all(clients, country, mode, limit_s=1.0):
    """Seconds until every worker applies `mode`; fails past the limit."""
    t0 = time.monotonic()
    pending = list(clients)
    while pending:
        pending = [c for c in pending if c.get(f"/v1/flags/{country}").json()["mode"] != mode]
        elapsed = time.monotonic() - t0
        assert elapsed < limit_s, f"{len(pending)} worker(s) still not on {mode} after {elapsed:.2f}s"
        time.sleep(0.01)
    return time.monotonic() - t0


def put(client, country, **body):
    r = client.put(f"/v1/flags/{country}", json={"reason": "e2e", **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_kill_switch_reaches_every_worker_within_one_second(workers):
    (a, b), _ = workers
    df = load_credit_data()
    put(a, "ES", mode="full")
    wait_all([a, b], "ES", "full")
    d = b.post("/v1/decisions", json=application_for_row(20, df, application_id="KS-1")).json()
    assert d["decided_by"] == "model"
    put(a, "ES", mode="legacy")  # the kill switch, issued on one worker
    elapsed = wait_all([a, b], "ES", "legacy")
    assert elapsed < 1.0
    for i, c in enumerate((a, b)):
        d = c.post("/v1/decisions", json=application_for_row(
            21 + i, df, application_id=f"KS-after-{i}")).json()
        assert d["decided_by"] == "legacy" and d["probability_of_default"] is None


def test_kill_switch_from_the_cli(workers):
    """`credit flags set ES --mode legacy` reaches both running workers within 1 s."""
    (a, b), env = workers
    put(a, "ES", mode="canary", percent=20)
    wait_all([a, b], "ES", "canary")
    subprocess.run([sys.executable, "-m", "app.cli", "flags", "set", "ES", "--mode", "legacy",
                    "--reason", "incident drill", "--actor", "oncall:e2e"],
                   env={**os.environ, **env}, check=True, capture_output=True, timeout=60)
    assert wait_all([a, b], "ES", "legacy") < 1.0  # from the moment the change is stored
    flag = b.get("/v1/flags/ES").json()
    assert flag["updated_by"] == "oncall:e2e" and flag["reason"] == "incident drill"


def test_canary_is_sticky_across_workers(workers):
    """At 20%, each customer gets the arm of its keyed bucket, on either worker, every time."""
    (a, b), _ = workers
    df = load_credit_data()
    put(a, "ES", mode="canary", percent=20)
    wait_all([a, b], "ES", "canary")
    bucketer = Bucketer(KEY.encode())
    rows = list(range(100, 4400, 43))[:80]
    arms = {}
    for rnd in range(2):
        for i, row in enumerate(rows):
            c = (a, b)[(i + rnd) % 2]  # the second round asks the other worker
            d = c.post("/v1/decisions", json=application_for_row(
                row, df, application_id=f"STICKY-{rnd}-{row}")).json()
            arms.setdefault(row, set()).add(d["decided_by"])
    assert all(len(s) == 1 for s in arms.values())
    expected = {row: "model" if bucketer.bucket(f"C-{row}") < 2000 else "legacy" for row in rows}
    assert {row: s.pop() for row, s in arms.items()} == expected
    assert "model" in expected.values() and "legacy" in expected.values()


def test_flag_changes_are_in_the_audit_log(workers, shared_dir):
    (a, _), _ = workers
    put(a, "PT", mode="shadow")
    from audit.sqlite import SQLiteAuditStore

    store = SQLiteAuditStore(shared_dir / "audit.db")
    changes = [r for r in (orjson.loads(e.body) for e in store.entries())
               if r["type"] == "flag_change"]
    store.close()
    pt = [r for r in changes if r["country"] == "PT"]  # entries come chain by chain
    # The actor is the API key's name and id, not something the caller states.
    assert len(pt) == 1 and pt[0]["actor"].startswith("e2e (key ") and pt[0]["reason"] == "e2e"
    assert pt[0]["to"]["mode"] == "shadow" and pt[0]["at"]
    assert any(r["actor"] == "oncall:e2e" for r in changes)  # the CLI's change
