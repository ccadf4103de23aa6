"""Publishing a policy through the API of two running workers: proposed by one key, refused
when that key approves it, approved by a second key, served by both workers within seconds
without a restart; a decision made before the change replays identically (its recorded
policy version, loaded from the history), one made after records the new version."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.simulators.server import application_for_row
from decision.policy import Policy
from tests import servers
from tests.conftest import api_env, create_key
from training.data import load_credit_data

pytestmark = pytest.mark.slow
NEW = "2026.12.1"


def strict_policy() -> str:
    """Approve nothing: every score at or above 0.0001 refers or declines."""
    text = Policy.load().text or ""
    return (text.replace('version = "2026.11.3"', f'version = "{NEW}"')
            .replace("approve_below = 0.25", "approve_below = 0.0001")
            .replace("approve_below = 0.22", "approve_below = 0.0001")
            .replace("approve_below = 0.20", "approve_below = 0.0001"))


def client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=15, headers={"Authorization": f"Bearer {key}"})


def test_propose_four_eyes_hot_reload_on_two_workers_and_replay(data_dir, simulators_url):
    env = api_env(data_dir, simulators_url, CREDIT_POLICY_POLL_S="0.5",
                  CREDIT_ENRICHMENT_TIMEOUT_S="2", CREDIT_ENRICHMENT_DEADLINE_S="3")
    maker = create_key(data_dir, ["policy:admin", "decisions:write", "decisions:read"], "maker")
    checker = create_key(data_dir, ["policy:admin"], "checker")
    reader = create_key(data_dir, ["decisions:read"], "reader")
    df = load_credit_data()
    with servers.api(env, log=data_dir / "api-a.log") as url_a, \
            servers.api(env, log=data_dir / "api-b.log") as url_b, \
            client(url_a, maker) as a, client(url_b, checker) as b:
        # A decision the bundled policy approves.
        before = None
        for row in range(1, 60):
            r = a.post("/v1/decisions", json=application_for_row(row, df,
                                                                 application_id=f"POL-{row}"))
            assert r.status_code == 200, r.text
            if r.json()["outcome"] == "approve" and r.json()["decided_by"] == "model":
                before = r.json()
                break
        assert before is not None, "no approved model decision among the first rows"

        assert client(url_a, reader).get("/v1/policies").status_code == 403  # scope
        proposed = a.post("/v1/policies", json={"document": strict_policy(),
                                                "reason": "stop approving: incident 7"})
        assert proposed.status_code == 201, proposed.text
        assert proposed.json()["state"] == "proposed"
        assert a.post("/v1/policies", json={"document": "x = [", "reason": "broken"}
                      ).status_code == 422
        self_approved = a.post(f"/v1/policies/{NEW}/approve", json={"reason": "my own"})
        assert self_approved.status_code == 409
        assert self_approved.json()["error"] == "same_approver"
        for c in (a, b):  # a proposal is not served
            assert c.get("/v1/policies/served").json()["version"] == "2026.11.3"

        approved = b.post(f"/v1/policies/{NEW}/approve", json={"reason": "backtest checked",
                                                               "expected_live": "2026.11.3"})
        assert approved.status_code == 200, approved.text
        t0 = time.monotonic()
        assert b.get("/v1/policies/served").json()["version"] == NEW  # the approver: at once
        while a.get("/v1/policies/served").json()["version"] != NEW:
            assert time.monotonic() - t0 < 5, "worker A did not reload the policy in 5 s"
            time.sleep(0.1)

        after = a.post("/v1/decisions", json=application_for_row(
            int(before["application_id"].split("-")[1]), df, application_id="POL-AFTER"))
        assert after.json()["outcome"] != "approve"
        record = a.get(f"/v1/decisions/{after.json()['decision_id']}").json()
        assert record["policy"]["version"] == NEW

        history = b.get("/v1/policies").json()
        assert [(v["version"], v["state"]) for v in history] == [("2026.11.3", "retired"),
                                                                  (NEW, "live")]
        assert history[1]["approved_by"].startswith("checker")
        diff = b.get(f"/v1/policies/2026.11.3/diff/{NEW}").json()
        assert {(p["scope"], p["key"]) for p in diff["params"]} >= {("defaults", "approve_below")}

        # The console shows a proposal's backtest before the approve form; not to its proposer.
        back = (Policy.load().text or "").replace('version = "2026.11.3"', 'version = "back"')
        assert a.post("/v1/policies", json={"document": back, "reason": "undo incident 7"}
                      ).status_code == 201
        api_bt = b.get("/v1/policies/back/backtest").json()
        s = api_bt["scopes"]["all"]
        assert api_bt["decisions"] == s["decisions"] >= 2
        # Recorded under the strict version (no approvals after it), re-decided under "back".
        assert s["candidate"]["rates"]["approve"] >= s["recorded"]["rates"]["approve"]
        with httpx.Client(base_url=url_b, timeout=60, follow_redirects=False) as web:
            assert web.post("/console/login", data={"api_key": checker}).status_code == 303
            html = web.get("/console/policies/back").text
            assert html.index('data-testid="backtest"') < html.index('data-testid="approve-form"')
            assert 'data-scope="all"' in html
            csrf = html.split('name="csrf" value="')[1].split('"')[0]
            r = web.post("/console/policies/back/approve",
                         data={"csrf": csrf, "reason": "backtest shown", "expected_live": NEW})
            assert r.status_code == 303, r.text
        with httpx.Client(base_url=url_a, timeout=60) as web:
            web.post("/console/login", data={"api_key": maker})
            assert 'data-state="live"' in web.get("/console/policies").text

    runner = CliRunner()
    cli_env = {**env, "COLUMNS": "200"}
    replay = runner.invoke(cli, ["audit", "replay", before["decision_id"], "--json"], env=cli_env)
    assert replay.exit_code == 0, replay.output
    replayed = orjson.loads(replay.stdout[:replay.stdout.rindex("}") + 1])
    assert replayed["identical"] and replayed["replayed"]["outcome"] == "approve"
    history = runner.invoke(cli, ["policy", "history", "--json"], env=cli_env)
    assert [v["state"] for v in orjson.loads(history.stdout)] == ["retired", "retired", "live"]
