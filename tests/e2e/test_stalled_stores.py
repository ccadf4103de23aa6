"""Stores that stop answering, against a real API process: a write lock held on the SQLite
log, key store or feature store, a frozen (SIGSTOP) DynamoDB and a frozen Redis. Each gives
the right answer within 2 s (503 on the audit path, a degraded 200 for the feature store)
and /healthz keeps answering in milliseconds meanwhile: nothing on the event loop waits on
them."""

import signal
import sqlite3
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from app.settings import Settings
from app.simulators.server import application_for_row
from tests import servers
from tests.conftest import GENEROUS_DEADLINES, api_env, auth, deadline_env, fresh_data_dir

# The deadlines under test: production's defaults, not the functional tests' generous ones.
DEADLINES = deadline_env({k: Settings.model_fields[k].default for k in GENEROUS_DEADLINES})
# A loop held by a frozen store call would stall /healthz for at least that call's deadline:
# Redis (rate limit, two cache reads and velocity) >= 0.3 s together, the audit stores
# (SQLite, DynamoDB) >= 1 s. Each limit is under that, with room for a busy machine: once, in
# a full run, the whole process paused ~0.35 s (the decision took as much longer, 1.90 s
# against 1.52 s) with a frozen DynamoDB, a pause no store call of its own made.
PROBE_LIMIT_S = 0.2
AUDIT_PROBE_LIMIT_S = 0.6


def decide_while_probing(base, headers, body):
    """POST a decision; meanwhile probe /healthz on its own connection. Returns (response,
    seconds it took, slowest probe in seconds)."""
    probes, done = [], threading.Event()

    def probe():
        with httpx.Client(base_url=base, timeout=5) as c:
            c.get("/healthz")  # connect outside the measurement
            while not done.is_set():
                t = time.perf_counter()
                assert c.get("/healthz").status_code == 200
                probes.append(time.perf_counter() - t)
                time.sleep(0.02)

    th = threading.Thread(target=probe)
    th.start()
    time.sleep(0.1)
    try:
        with httpx.Client(base_url=base, timeout=30, headers=headers) as c:
            t = time.perf_counter()
            r = c.post("/v1/decisions", json=body)
            took = time.perf_counter() - t
    finally:
        done.set()
        th.join()
    return r, took, max(probes)


@contextmanager
def write_lock(path):
    """Another process's transaction holding the file's write lock."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@pytest.fixture(scope="module")
def api(trained, simulators_url, tmp_path_factory):
    data_dir = fresh_data_dir(trained, tmp_path_factory.mktemp("stalled"))
    with servers.api(api_env(data_dir, simulators_url, **DEADLINES), log=data_dir / "api.log") as base:
        yield base, data_dir, auth(data_dir)


@pytest.mark.parametrize("locked,row", [("audit.db", 31), ("audit-customer-keys.db", 35)])
def test_a_locked_sqlite_store_is_503_within_2s(api, locked, row):
    """The key store's lock matters for a new customer, whose data key must be written."""
    base, data_dir, headers = api
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:  # the files exist
        assert c.post("/v1/decisions", json=application_for_row(
            30, application_id=f"PRE-{locked}")).status_code == 200
    with write_lock(data_dir / locked):
        r, took, probe = decide_while_probing(
            base, headers, application_for_row(row, application_id=f"LOCK-{locked}"))
        ready = httpx.get(f"{base}/readyz", timeout=5)
    assert r.status_code == 503 and r.json()["error"] == "audit_unavailable"
    assert took < 2.0 and probe < AUDIT_PROBE_LIMIT_S, (took, probe)
    assert ready.status_code == 503 and "failing" in ready.json()["checks"]["audit_appends"]
    # Once the lock is gone the same application is decided, and readiness comes back.
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        assert c.post("/v1/decisions", json=application_for_row(
            row, application_id=f"LOCK-{locked}")).status_code == 200
        assert c.get("/readyz").status_code == 200
    assert "audit_append_failed" in (data_dir / "api.log").read_text()


def test_a_locked_sqlite_feature_store_degrades_within_2s(api):
    """The velocity write waits in its thread up to its deadline, and the decision
    degrades; the event loop never waits for the lock."""
    base, data_dir, headers = api
    with write_lock(data_dir / "features.db"):
        r, took, probe = decide_while_probing(
            base, headers, application_for_row(36, application_id="LOCK-features"))
    assert r.status_code == 200 and took < 2.0 and probe < PROBE_LIMIT_S, \
        (r.status_code, took, probe)
    assert {"source": "velocity", "reason": "store_unavailable",
            "code": "velocity_unavailable"} in r.json()["degraded"]


def test_a_frozen_dynamodb_is_503_within_2s(trained, simulators_url, tmp_path, monkeypatch):
    for k, v in (("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t"),
                 ("AWS_DEFAULT_REGION", "eu-west-1")):
        monkeypatch.setenv(k, v)
    data_dir = fresh_data_dir(trained, tmp_path)
    with servers.moto_process() as (moto, proc):
        env = api_env(data_dir, simulators_url, **DEADLINES, CREDIT_AUDIT_STORE="dynamodb",
                      CREDIT_DYNAMODB_ENDPOINT=moto, CREDIT_AUDIT_DIGEST_INTERVAL_S="0")
        with servers.api(env, log=tmp_path / "api.log") as base:
            headers = auth(data_dir)
            proc.send_signal(signal.SIGSTOP)  # connections accepted, never answered
            try:
                r, took, probe = decide_while_probing(
                    base, headers, application_for_row(32, application_id="DDB-FROZEN"))
            finally:
                proc.send_signal(signal.SIGCONT)
    assert r.status_code == 503 and took < 2.0 and probe < AUDIT_PROBE_LIMIT_S, \
        (r.status_code, took, probe)


def test_a_frozen_redis_degrades_within_2s(trained, simulators_url, tmp_path):
    data_dir = fresh_data_dir(trained, tmp_path)
    with servers.redis_server() as (url, proc):
        env = api_env(data_dir, simulators_url, **DEADLINES, CREDIT_FEATURE_STORE="redis",
                      CREDIT_REDIS_URL=url, CREDIT_RATE_LIMIT_STORAGE=url,
                      CREDIT_BREAKER_REDIS_URL=url)
        with servers.api(env, log=tmp_path / "api.log") as base:
            headers = auth(data_dir)
            proc.send_signal(signal.SIGSTOP)
            try:
                r, took, probe = decide_while_probing(
                    base, headers, application_for_row(33, application_id="REDIS-FROZEN"))
            finally:
                proc.send_signal(signal.SIGCONT)
    assert r.status_code == 200 and took < 2.0 and probe < PROBE_LIMIT_S, (r.status_code, took, probe)
    assert {"source": "velocity", "reason": "store_unavailable",
            "code": "velocity_unavailable"} in r.json()["degraded"]
