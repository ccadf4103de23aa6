"""The background passes in a process of their own (CREDIT_BACKGROUND_PASSES=process): the
workers then project nothing in the background (the monitoring gauge shows the backlog
grow), and `credit background` brings both read models level with the audit log."""

from __future__ import annotations

import re
import time

import httpx
import orjson

from app.simulators.server import application_for_row
from tests import servers
from tests.conftest import api_env, create_key, fresh_data_dir
from training.data import load_credit_data


def pending(client: httpx.Client) -> float:
    """The worker's gauge of audit records the monitoring read model lacks."""
    text = client.get("/metrics").text
    return float(re.search(r"^credit_monitoring_pending_records (\S+)$", text, re.M)[1])


def wait_until(check, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_the_background_process_projects_what_the_workers_leave(trained, simulators_url,
                                                                tmp_path):
    data_dir = fresh_data_dir(trained, tmp_path)
    env = api_env(data_dir, simulators_url, CREDIT_BACKGROUND_PASSES="process",
                  CREDIT_MONITORING_REFRESH_S="0.5", CREDIT_REVIEW_SYNC_INTERVAL_S="0.5",
                  CREDIT_ENRICHMENT_TIMEOUT_S="2", CREDIT_ENRICHMENT_DEADLINE_S="3")
    headers = {"Authorization": f"Bearer {create_key(data_dir)}"}
    df = load_credit_data()
    with servers.api(env, log=data_dir / "api.log") as url, \
            httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for row in range(1, 13):
            r = client.post("/v1/decisions", json=application_for_row(
                row, df, application_id=f"BG-{row}"))
            assert r.status_code == 200, r.text
        # Two of the worker's refreshes later, the gauge shows what nobody projected.
        assert wait_until(lambda: pending(client) >= 12, 10)
        time.sleep(1.2)
        assert pending(client) >= 12
        with servers.background(env, log=data_dir / "background.log"):
            assert wait_until(lambda: pending(client) == 0)
        events = [orjson.loads(line)["event"] for line in
                  (data_dir / "background.log").read_text().splitlines() if line.startswith("{")]
        assert "review_catch_up" in events and "monitoring_refresh" in events
        assert not [e for e in events if e.endswith("_failed")]
