"""`credit backtest` on recorded history made by the real decision path: today's policy
reproduces every recorded model decision exactly; a stricter candidate shows its swap set with
observed bad rates from reported outcomes; the same command on a `dask scheduler` with two
`dask worker` processes gives the same report as the local cluster."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from datetime import date

import orjson
import pytest
from typer.testing import CliRunner

from app.builder import Builder
from app.cli import cli
from app.schemas import COUNTRIES, Application
from app.services import build_services
from app.settings import Settings
from app.simulators.server import application_for_row
from decision.policy import Policy
from feature_flags.file import FileFlagStore
from feature_flags.model import default_flag
from tests import servers
from training.data import LABEL, load_credit_data

pytestmark = pytest.mark.slow
N = 240


@pytest.fixture(scope="module")
def history(trained, simulators_url, tmp_path_factory):
    """N decisions through the orchestrator (PT decided by the legacy scorecard, one applicant
    eight times so velocity refers), then outcomes reported for every approval."""
    from tests.conftest import GENEROUS_DEADLINES, fresh_data_dir

    data_dir = fresh_data_dir(trained, tmp_path_factory.mktemp("backtest"))
    settings = Settings(data_dir=data_dir, bureau_url=f"{simulators_url}/bureau",
                        open_banking_url=f"{simulators_url}/open-banking",
                        audit_digest_interval_s=0, enrichment_timeout_s=2.0,
                        enrichment_deadline_s=3.0, **GENEROUS_DEADLINES)
    FileFlagStore(settings.flags_path).put(default_flag("PT", "legacy"), 0)
    df = load_credit_data()
    rows = [1 + (i * 13) % (len(df) - 1) for i in range(N)]
    rows[-8:] = [1] * 8
    apps = [Application.model_validate(application_for_row(
        r, df, application_id=f"BT-{i}", country=COUNTRIES[i % len(COUNTRIES)]), strict=False)
        for i, r in enumerate(rows)]

    async def run():
        services = build_services(settings)
        try:
            out = []
            for chunk in range(0, N, 10):
                out += await asyncio.gather(*(services.orchestrator.decide(a)
                                              for a in apps[chunk:chunk + 10]))
            return out
        finally:
            await services.aclose()

    decided = asyncio.run(run())
    # Outcomes for the approvals: the data set's own label (status 2 = bad).
    b = Builder(settings)
    items = [{"decision_id": d.response["decision_id"],
              "defaulted": bool(df.iloc[rows[i]][LABEL] == 1),
              "observed_at": date.today().isoformat(), "loan_taken": True}
             for i, d in enumerate(decided) if d.response["outcome"] == "approve"]
    res = b.outcomes.ingest(items, source="api", actor="tests", strict=False)
    assert not res.rejected, res.rejected
    b.close()
    env = {"CREDIT_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return env, decided, len(items)


def backtest(env, *args):
    r = CliRunner().invoke(cli, ["backtest", *args, "--json"], env=env)
    assert r.exit_code == 0, r.output
    return orjson.loads(r.stdout)


def model_decided(decided):
    return [d for d in decided if d.response["decided_by"] == "model"]


def test_todays_policy_reproduces_the_recorded_decisions(history, tmp_path):
    """Every recorded model decision re-decided identically (outcome; probability to 1e-12),
    on the local cluster; the recorded rates are those of the audit log."""
    env, decided, approvals = history
    policy = tmp_path / "today.toml"
    policy.write_text(Policy.load().text or "")
    out = backtest(env, "--policy", str(policy))
    s = out["scopes"]["all"]
    assert out["decisions"] == N == s["decisions"]
    assert s["model_decided"] == len(model_decided(decided))
    assert s["reproduced"] == s["model_decided"]
    assert s["max_probability_difference"] < 1e-12
    recorded = {o: sum(d.response["outcome"] == o for d in decided) / N
                for o in ("approve", "refer", "decline")}
    assert s["recorded"]["rates"] == pytest.approx(recorded)
    assert s["recorded"]["bad_rate_approved"]["n"] == approvals
    assert {sw["from"] for sw in s["swaps"]} <= {"decline", "refer", "approve"}
    # The only swaps are the legacy scorecard's decisions (PT), re-decided by the model.
    assert sum(sw["count"] for sw in s["swaps"]) == sum(
        sw["count"] for sw in out["scopes"]["PT"]["swaps"])
    assert set(out["scopes"]) == {"all", *COUNTRIES}


def test_a_stricter_candidate_shows_its_swap_set(history, tmp_path):
    """approve_below lowered everywhere: every recorded model approval becomes a refer; the
    swap set's observed bad rate is the reported outcomes' (with an interval)."""
    env, decided, _ = history
    text = (Policy.load().text or "").replace('version = "2026.11.3"', 'version = "strict"')
    for v in ("0.25", "0.22", "0.20"):
        text = text.replace(f"approve_below = {v}", "approve_below = 0.0001")
    (tmp_path / "strict.toml").write_text(text)
    out = backtest(env, "--policy", str(tmp_path / "strict.toml"), "--country", "ES")
    s = out["scopes"]["ES"]
    es_model_approvals = sum(1 for i, d in enumerate(decided)
                             if d.response["decided_by"] == "model"
                             and d.response["outcome"] == "approve"
                             and COUNTRIES[i % len(COUNTRIES)] == "ES")
    swap = next(sw for sw in s["swaps"] if (sw["from"], sw["to"]) == ("approve", "refer"))
    assert swap["count"] == es_model_approvals > 0
    assert swap["bad_rate"]["n"] == es_model_approvals
    lo, hi = swap["bad_rate"]["ci95"]
    assert lo <= swap["bad_rate"]["rate"] <= hi
    assert s["candidate"]["rates"]["approve"] == 0.0
    assert out["decisions"] == s["decisions"] == N // len(COUNTRIES)


def wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"dask scheduler not listening on {port}")


@contextlib.contextmanager
def dask_cluster():
    """`dask scheduler` and two `dask worker` processes on free ports."""
    port = servers.free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_port(port, procs[0])
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                 "1", "--nworkers", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="60s") as c:
            c.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_the_same_command_on_a_dask_scheduler_with_two_workers(history, tmp_path):
    env, _, _ = history
    policy = tmp_path / "today.toml"
    policy.write_text(Policy.load().text or "")
    local = backtest(env, "--policy", str(policy))
    with dask_cluster() as address:
        remote = backtest(env, "--policy", str(policy), "--scheduler", address)
    assert remote["scopes"] == local["scopes"]

