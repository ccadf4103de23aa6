"""Two API instances acting as one system: separate data directories, one PostgreSQL (the
audit log, digests and customer keys) and one redis-server (features, flags, rate limits,
breaker state). Decisions on both, idempotency across them, a kill switch through one that
reaches both, one verifiable log and one export; then PostgreSQL stopped under load, and
kill -9 of one instance under load."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.simulators.server import application_for_row
from audit.digest import load_public_key
from audit.postgres import PostgresAuditConfig, PostgresAuditStore, PostgresDigestStore
from audit.verify import VerifyResult, verify_store
from audit.verify_export import verify_export
from tests import servers
from tests.conftest import api_env, auth, fresh_data_dir
from tests.servers import migrated_database
from training.data import load_credit_data

BUDGET_S = 2.0  # a decision is answered within this, also with the database gone


def shared_secrets() -> dict[str, str]:
    """Every instance of one system holds the same keys: pseudonyms, customer data keys'
    master key, the digest signing key, the canary bucket key."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    return {"CREDIT_PSEUDONYM_KEY": secrets.token_hex(32),
            "CREDIT_AUDIT_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "CREDIT_AUDIT_SIGNING_KEY": pem, "CREDIT_BUCKET_KEY": secrets.token_hex(32)}


@dataclass
class Instance:
    proc: subprocess.Popen
    url: str
    env: dict[str, str]
    headers: dict[str, str]
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, headers=self.headers)

    def log_tail(self, lines: int = 30) -> str:
        """What the instance logged last (for a failure's message: which store, which error)."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class System:
    a: Instance
    b: Instance
    pg: servers.PostgresServer
    db_url: str
    sims: str

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                              text=True, env={**os.environ, **self.b.env}, timeout=120)

    def logged_once(self, answered: list[dict]) -> bool:
        """Every one of these decisions is in the log exactly once."""
        ids = [d["decision_id"] for d in answered]
        with psycopg.connect(self.db_url) as conn:
            counts = dict(conn.execute("SELECT decision_id, count(*) FROM audit_entries "
                                       "WHERE decision_id = ANY(%s) GROUP BY decision_id",
                                       (ids,)).fetchall())
        return all(counts.get(i) == 1 for i in ids)

    def verify(self) -> VerifyResult:
        """The whole log against the latest digest, in this process (as the CLI does)."""
        config = PostgresAuditConfig(url=self.db_url)
        store, digests = PostgresAuditStore(config), PostgresDigestStore(config)
        try:
            return verify_store(store, digests.latest(), jobs=2)
        finally:
            store.close()
            digests.close()


@pytest.fixture(scope="module")
def df():
    return load_credit_data()


@pytest.fixture(scope="module")
def system(trained, fault_simulators_url, redis_process, tmp_path_factory):
    """PostgreSQL of its own (this module stops it), the session's redis-server emptied, and
    two instances started side by side."""
    import redis

    redis_url = redis_process[0]
    redis.Redis.from_url(redis_url).flushall()
    with servers.postgres_server() as pg:
        db_url = migrated_database(pg, "credit")
        shared = {"CREDIT_AUDIT_STORE": "postgres", "CREDIT_POSTGRES_URL": db_url,
                  "CREDIT_FEATURE_STORE": "redis", "CREDIT_REDIS_URL": redis_url,
                  "CREDIT_FLAG_STORE": "redis", "CREDIT_FLAG_POLL_INTERVAL_S": "0.2",
                  "CREDIT_RATE_LIMIT_STORAGE": redis_url.replace("/0", "/1"),
                  "CREDIT_BREAKER_REDIS_URL": redis_url,
                  "CREDIT_AUDIT_DIGEST_INTERVAL_S": "0.5",
                  # Generous enrichment deadlines: on a busy box a slow simulator must not
                  # degrade decisions here (degradation is test_degradation's subject).
                  "CREDIT_ENRICHMENT_TIMEOUT_S": "1.5", "CREDIT_ENRICHMENT_DEADLINE_S": "1.5",
                  **shared_secrets()}
        dirs = [fresh_data_dir(trained, tmp_path_factory.mktemp(f"instance-{n}")) for n in "ab"]
        envs = [api_env(d, fault_simulators_url, **shared) for d in dirs]
        logs = [d / "api.log" for d in dirs]
        with ThreadPoolExecutor(2) as pool:
            started = list(pool.map(servers.start_api, envs, logs))
        try:
            # Ready, not only alive: the first decisions must find PostgreSQL answering
            # within the audit deadline (a cold pool on a busy box took longer once: 503).
            for proc, url in started:
                servers.wait_http(f"{url}/readyz", proc)
            a, b = (Instance(p, url, env, auth(d), log)
                    for (p, url), env, d, log in zip(started, envs, dirs, logs, strict=True))
            yield System(a, b, pg, pg.url("credit"), fault_simulators_url)
        finally:
            for proc, _ in started:
                proc.kill()
                proc.wait(timeout=10)


def bureau_calls(sims: str) -> int:
    return int(httpx.get(f"{sims}/_faults/bureau", timeout=5).json()["calls"])


def test_decisions_on_both_are_one_system(system, df):
    """A decision made on one instance is read, replayed idempotently and its customer's
    enrichment reused (shared feature store) by the other."""
    with system.a.client() as a, system.b.client() as b:
        first = a.post("/v1/decisions", json=application_for_row(31, df, application_id="TWO-1"))
        assert first.status_code == 200, first.text
        record = b.get(f"/v1/decisions/{first.json()['decision_id']}")
        if record.status_code == 503:
            # Twice in ~5 full runs on a slow, stalling disk (not reproduced since): a store
            # past its deadline. Being one system is this test's subject, availability under
            # a stalled store test_degradation's: kept as a warning with its evidence, and
            # read once more.
            warnings.warn(f"GET on b: {record.text}\n{system.b.log_tail()}", stacklevel=1)
            time.sleep(1)
            record = b.get(f"/v1/decisions/{first.json()['decision_id']}")
        assert record.status_code == 200, f"{record.text}\n{system.b.log_tail()}"
        assert record.json()["response"] == first.json()
        again = b.post("/v1/decisions", json=application_for_row(31, df, application_id="TWO-1"))
        assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
        calls = bureau_calls(system.sims)
        other = b.post("/v1/decisions", json=application_for_row(31, df, application_id="TWO-2"))
        assert other.status_code == 200 and other.json()["decision_id"] != first.json()["decision_id"]
        assert bureau_calls(system.sims) == calls  # the customer's bureau answer came from Redis


def test_same_application_on_both_at_once_gives_one_decision(system, df):
    """Ten identical requests to each instance at once: one decision, every answer the same."""
    body = application_for_row(32, df, application_id="TWO-SAME")
    barrier = threading.Barrier(20)

    def post(i):
        inst = system.a if i % 2 else system.b
        with inst.client() as c:
            barrier.wait()
            return c.post("/v1/decisions", json=body)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(post, range(20)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["decision_id"] for r in responses}) == 1
    assert system.logged_once([responses[0].json()])


def test_kill_switch_through_one_reaches_both(system, df):
    """PUT legacy on instance a: within 2 s both instances decide ES applications by the
    legacy scorecard."""
    with system.a.client() as a, system.b.client() as b:
        assert a.put("/v1/flags/ES", json={"mode": "legacy", "reason": "e2e kill switch"}
                     ).status_code == 200
        t0, n, pending = time.monotonic(), 0, {"a": a, "b": b}
        while pending:
            for name, c in list(pending.items()):
                n += 1
                d = c.post("/v1/decisions", json=application_for_row(
                    40 + n, df, application_id=f"TWO-KS-{n}")).json()
                if d["decided_by"] == "legacy":
                    del pending[name]
            assert time.monotonic() - t0 < 2.0, f"{sorted(pending)} still not on legacy"
        assert a.put("/v1/flags/ES", json={"mode": "full", "reason": "e2e restore"}
                     ).status_code == 200


@dataclass
class Load:
    """Decision requests from 3 threads per instance until stopped; every answer kept."""

    system: System
    df: object
    tag: str
    results: list[tuple[str, int, float, float, dict | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _run(self, inst: Instance, name: str, worker: int) -> None:
        with inst.client() as c:
            n = 0
            while not self.stop.is_set():
                n += 1
                row = 100 + (worker * 397 + n * 7 + (name == "b") * 2000) % 4000
                body = application_for_row(row, self.df,
                                           application_id=f"{self.tag}-{name}-{worker}-{n}")
                t = time.monotonic()
                try:
                    r = c.post("/v1/decisions", json=body)
                except httpx.TransportError:
                    if inst.proc.poll() is not None:
                        return  # this instance was killed
                    self.results.append((name, 0, t, time.monotonic() - t, None))
                    continue
                self.results.append((name, r.status_code, t, time.monotonic() - t,
                                     r.json() if r.status_code == 200 else None))

    def __enter__(self) -> Load:
        self.threads = [threading.Thread(target=self._run, args=(inst, name, w))
                        for inst, name in ((self.system.a, "a"), (self.system.b, "b"))
                        for w in range(3)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)

    def wait_ok(self, count: int, since: float = 0.0, timeout_s: float = 20.0) -> None:
        """Until each instance still running has `count` 200s started after `since`."""
        names = [n for n, i in (("a", self.system.a), ("b", self.system.b))
                 if i.proc.poll() is None]
        deadline = time.monotonic() + timeout_s
        while any(sum(1 for r in self.results if r[0] == n and r[1] == 200 and r[2] >= since)
                  < count for n in names):
            assert time.monotonic() < deadline, "decisions did not flow"
            time.sleep(0.05)

    def answered(self) -> list[dict]:
        return [r[4] for r in self.results if r[1] == 200]


def exported_ids(out) -> set[str]:
    return {orjson.loads(orjson.loads(line)["body"]).get("decision_id")
            for line in (out / "records.jsonl").open("rb")}


def test_postgres_stopped_under_load(system, df):
    """PostgreSQL stops under load: decisions become 503s, each answered within 2 s (no 500,
    no hang); after its restart both instances decide again; every 2xx is in the log once and
    every chain verifies without a gap."""
    with Load(system, df, "PG") as load:
        load.wait_ok(10)
        system.pg.stop("fast")
        stopped_at = time.monotonic()
        time.sleep(2.0)
        down = [r for r in load.results if r[2] >= stopped_at]
        system.pg.start()
        restarted_at = time.monotonic()
        load.wait_ok(5, since=restarted_at, timeout_s=10)
        recovered_s = max(min(r[2] + r[3] for r in load.results
                              if r[0] == n and r[1] == 200 and r[2] >= restarted_at)
                          for n in "ab") - restarted_at
    statuses = {r[1] for r in load.results}
    assert statuses <= {200, 503}, statuses
    assert {r[0] for r in down if r[1] == 503} == {"a", "b"}
    assert all(r[1] == 503 for r in down), "a decision was answered 2xx without its database"
    slowest = max(r[3] for r in load.results)
    assert slowest < BUDGET_S, f"an answer took {slowest:.2f}s"
    assert recovered_s < 3.0, f"decisions resumed {recovered_s:.1f}s after the restart"
    assert system.logged_once(load.answered())
    for inst in (system.a, system.b):  # what the audit-failure alert counts
        with inst.client() as c:
            metrics = c.get("/metrics").text
        assert any(line.startswith("credit_audit_failures_total ") and float(line.split()[1]) > 0
                   for line in metrics.splitlines())
    result = system.verify()
    assert result.ok and result.chains >= 2, result


def test_kill_9_of_one_instance_under_load(system, df, tmp_path):
    """SIGKILL of instance a under load: every 2xx of either is in the log exactly once, the
    other goes on, `credit audit verify` passes over every chain and an export of the period
    covers the chains of both instances."""
    with system.a.client() as c:
        # The test before this one stopped PostgreSQL: a's pool may still be in its
        # fail-fast window (a 503 the lending app retries), so retry as it would.
        deadline = time.monotonic() + 10
        while (first := c.post("/v1/decisions", json=application_for_row(
                60, df, application_id="TWO-A"))).status_code != 200:
            assert first.status_code == 503 and time.monotonic() < deadline, first.text
            time.sleep(0.2)
        chain_a = c.get(f"/v1/decisions/{first.json()['decision_id']}").json()["chain"]["chain_id"]
    with Load(system, df, "K9") as load:
        load.wait_ok(10)
        system.a.proc.kill()
        system.a.proc.wait(timeout=10)
        load.wait_ok(20, since=time.monotonic())  # b goes on
    answered = load.answered()
    assert len(answered) >= 40
    assert system.logged_once(answered)
    v = system.cli("audit", "verify")
    assert v.returncode == 0 and "complete up to the signed digest of" in v.stderr, v.stderr

    day = time.strftime("%Y-%m-%d", time.gmtime())
    out = tmp_path / "export"
    e = system.cli("audit", "export", "--country", "ES", "--from", day, "--to", day,
                   "--out", str(out), "--settle-seconds", "0")
    assert e.returncode == 0, e.stderr
    exported = {orjson.loads(line)["chain_id"] for line in (out / "records.jsonl").open("rb")}
    assert {d["decision_id"] for d in answered} <= exported_ids(out)
    last_b = [r[4] for r in load.results if r[0] == "b" and r[1] == 200][-1]
    with system.b.client() as c:
        chain_b = c.get(f"/v1/decisions/{last_b['decision_id']}").json()["chain"]["chain_id"]
    assert {chain_a, chain_b} <= exported
    summary = verify_export(out, load_public_key((out / "public-key.pem").read_bytes()))
    assert summary["chains"] >= 2
