"""`credit reviews sync | list` and `credit notices pending | mark-sent` through the real
command line, on an audit log the API did not project (as after kill -9)."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from app.cli import cli
from audit.records import parse_record
from audit.sqlite import SQLiteAuditStore
from tests import records


def test_sync_opens_the_missing_cases_and_notices_go_out(tmp_path, monkeypatch):
    """sync projects what the log holds; list shows the cases; a notice marked sent leaves
    the pending list and is audited; an unknown decision is refused."""
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    log = SQLiteAuditStore(tmp_path / "audit.db")
    for i, outcome in enumerate(["refer", "refer", "decline", "approve"]):
        log.append(records.decision(f"D{i}", outcome=outcome, raw_inputs={"amount": 500}),
                   decision_id=f"D{i}", application_id=f"A{i}")
    runner = CliRunner()
    synced = runner.invoke(cli, ["reviews", "sync"])
    assert synced.exit_code == 0, synced.output
    assert "read 4 audit entries: 3 referrals/declines" in synced.output
    listed = runner.invoke(cli, ["reviews", "list"]).output
    assert "ref-D0" in listed and "ref-D1" in listed and "ref-D2" not in listed
    pending = runner.invoke(cli, ["notices", "pending", "--json"]).stdout
    assert [orjson.loads(x)["decision_id"] for x in pending.splitlines()] == ["D2"]
    sent = runner.invoke(cli, ["notices", "mark-sent", "D2", "--channel", "letter"])
    assert sent.exit_code == 0, sent.output
    assert runner.invoke(cli, ["notices", "pending", "--json"]).stdout == ""
    types = [parse_record(e.body).type for e in log.entries()]
    assert types.count("adverse_action_notice_sent") == 1
    refused = runner.invoke(cli, ["notices", "mark-sent", "D3", "--channel", "letter"])
    assert refused.exit_code == 2 and "not a final decline" in refused.output
    log.close()
