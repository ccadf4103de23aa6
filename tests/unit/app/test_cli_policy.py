"""`credit policy ...`: propose, four eyes on approve, show, history, diff; exit codes."""

import orjson
from typer.testing import CliRunner

from app.cli import cli
from decision.policy import Policy


def credit(tmp_path, *args):
    return CliRunner().invoke(cli, list(args), env={"CREDIT_DATA_DIR": str(tmp_path / "data"),
                                                   "COLUMNS": "200"})


def draft(tmp_path, version="cli-1", text=None):
    path = tmp_path / f"{version}.toml"
    path.write_text(text if text is not None else (Policy.load().text or "").replace(
        'version = "2026.11.3"', f'version = "{version}"').replace(
        "approve_below = 0.22", "approve_below = 0.21"))
    return str(path)


def test_propose_refused_self_approval_then_approved(tmp_path):
    r = credit(tmp_path, "policy", "propose", draft(tmp_path), "--reason", "PT tighter",
               "--actor", "ana")
    assert r.exit_code == 0, r.output
    r = credit(tmp_path, "policy", "approve", "cli-1", "--reason", "mine", "--actor", "ana")
    assert r.exit_code == 2 and "four eyes" in r.output
    r = credit(tmp_path, "policy", "approve", "cli-1", "--reason", "checked", "--actor", "bo")
    assert r.exit_code == 0 and "live" in r.output
    shown = orjson.loads(credit(tmp_path, "policy", "show", "--json").stdout)
    assert (shown["version"], shown["state"], shown["approved_by"]) == ("cli-1", "live", "bo")
    history = orjson.loads(credit(tmp_path, "policy", "history", "--json").stdout)
    assert [(h["version"], h["state"]) for h in history] == [("2026.11.3", "retired"),
                                                              ("cli-1", "live")]
    d = orjson.loads(credit(tmp_path, "policy", "diff", "2026.11.3", "cli-1", "--json").stdout)
    assert d["params"] == [{"scope": "PT", "key": "approve_below", "before": 0.22,
                            "after": 0.21}]


def test_bad_documents_and_unknown_versions_exit_2(tmp_path):
    r = credit(tmp_path, "policy", "propose", draft(tmp_path, "x", "version = 'x'\n"),
               "--reason", "no defaults")
    assert r.exit_code == 2 and "[defaults]" in r.output
    assert credit(tmp_path, "policy", "approve", "nope", "--reason", "why not").exit_code == 2
    assert credit(tmp_path, "policy", "show", "nope").exit_code == 2
    assert credit(tmp_path, "policy", "diff", "2026.11.3", "nope").exit_code == 2
