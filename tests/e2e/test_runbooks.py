"""Every `credit …` command the runbooks tell an operator to type, run as written against a
real installation (API process, simulators, registry; PostgreSQL for the `db` commands), in
the order the runbooks give them. Placeholders (VERSION, CUSTOMER_ID, <chain>, …) are filled
with real values; a placeholder this file does not know fails the test, so a new runbook
command is covered the day it is written."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.builder import Builder
from app.cli import cli
from app.settings import Settings
from app.simulators.server import application_for_row
from tests import servers
from tests.conftest import (
    api_env,
    create_key,
    drop_postgres_db,
    fresh_data_dir,
    new_postgres_db,
    register_again,
)
from training.data import load_credit_data

RUNBOOKS = Path(__file__).parents[2] / "docs" / "runbooks"
FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`(credit [^`]+)`")
# The training budget a runbook command is run with: the pipeline whole, in seconds.
FAST_TRAIN = ["--trials", "1", "--tune-budget", "2", "--cv-folds", "0", "--n-boot", "10"]


def runbook_commands() -> list[tuple[str, str]]:
    """(runbook, command) for every `credit` command in a code span or fenced block."""
    found = []
    for path in sorted(RUNBOOKS.glob("*.md")):
        text = path.read_text()
        for block in FENCED.findall(text):
            found += [(path.name, line.split("#")[0].strip()) for line in block.splitlines()
                      if line.strip().startswith("credit ")]
        found += [(path.name, c) for c in INLINE.findall(FENCED.sub("", text))]
    return list(dict.fromkeys(found))


COMMANDS = runbook_commands()


def random_master() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="module")
def site(trained, simulators_url, tmp_path_factory):
    """A running installation mid master-key rotation (step 2 of key-rotation.md), a second
    model version with passing gates promoted (so there is something to roll back), and
    decisions including a decline and a referral."""
    data_dir = fresh_data_dir(trained, tmp_path_factory.mktemp("runbooks"))
    old, new = random_master(), random_master()
    server = api_env(data_dir, simulators_url, CREDIT_AUDIT_MASTER_KEY=old,
                     CREDIT_AUDIT_OTHER_MASTER_KEYS=new, CREDIT_ENRICHMENT_TIMEOUT_S="2",
                     CREDIT_ENRICHMENT_DEADLINE_S="3")
    key = create_key(data_dir)
    df = load_credit_data()
    with servers.api(server, log=data_dir / "api.log") as base, \
            httpx.Client(base_url=base, timeout=30,
                         headers={"Authorization": f"Bearer {key}"}) as client:
        decisions = []
        for row in range(4000, 4200):
            r = client.post("/v1/decisions", json=application_for_row(
                row, df, application_id=f"RB-{row}"))
            assert r.status_code == 200, r.text
            decisions.append({**r.json(), "customer_id": f"C-{row}"})
            outcomes = {d["outcome"] for d in decisions}
            if {"decline", "refer"} <= outcomes and len(decisions) >= 20:
                break
        b = Builder(Settings(data_dir=data_dir))
        registry = b.registry
        champion = registry.client.get_model_version_by_alias(registry.model_name, "champion")
        version = register_again(registry, champion, gates="passed")
        b.model_admin.promote(version, who="risk:tests", reason="runbook drill")
        chain = b.audit.heads()[0].chain_id
        b.close()
        env = {**server, "CREDIT_AUDIT_MASTER_KEY": new, "CREDIT_AUDIT_OTHER_MASTER_KEYS": old,
               "COLUMNS": "200"}
        yield {"env": env, "data_dir": data_dir, "decisions": decisions, "df": df,
               "version": version, "chain": chain, "url": base}


def old_key_id(site) -> str:
    """The id of a key created for the occasion, so revoking it leaves the site's key."""
    return create_key(site["data_dir"], ["decisions:read"], name="to-revoke").split("_")[1]


def fill(command: str, site, tmp: Path) -> list[str]:
    """The command's words with every placeholder replaced by a real value."""
    declined = next(d for d in site["decisions"] if d["outcome"] == "decline")
    feature_file = tmp / "features.parquet"
    values = {
        # publish-policy.md: a draft of its own (before VERSION and FILE, which they contain)
        "POLICY_FILE": lambda: policy_draft(tmp),
        "POLICY_VERSION": lambda: "runbook-drill",
        "LIVE_VERSION": lambda: "2026.11.3",
        "OLD_VERSION": lambda: "2026.11.3",
        "VERSION": lambda: site["version"],
        "CUSTOMER_ID": lambda: next(d["customer_id"] for d in site["decisions"]
                                    if d["outcome"] == "approve"),
        "TEXT": lambda: "runbook drill",
        "<chain>": lambda: site["chain"],
        "<you>": lambda: "tests",
        "DECISION_ID": lambda: declined["decision_id"],
        "<old key id>": lambda: old_key_id(site),
        "YYYY-MM-DD": lambda: time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400)),
        "FILE": lambda: str(tmp / "concordance.prom") if "--prom" in command
        else outcome_file(tmp / "outcomes.jsonl", site) if "outcomes ingest" in command
        else export_sample(feature_file, site),
    }
    text = re.sub(r"\[(--[^\]]+)\]", r"\1", command)  # optional parts: given
    for placeholder, value in values.items():
        if placeholder in text:
            text = text.replace(placeholder, shlex.quote(value()))
    unknown = re.findall(r"<[^>]+>|\b[A-Z][A-Z_]{2,}\b", text)
    unknown = [u for u in unknown if u not in {"ES", "PT", "RC", "INC", "DPO"}]
    assert not unknown, f"unknown placeholder {unknown} in `{command}`: teach this test it"
    words = shlex.split(text)
    assert words[0] == "credit"
    return words[1:]


def policy_draft(tmp: Path) -> str:
    """A candidate policy: the bundled one with a lower cut-off, version runbook-drill."""
    from decision.policy import Policy

    text = (Policy.load().text or "").replace('version = "2026.11.3"',
                                             'version = "runbook-drill"')
    path = tmp / "candidate.toml"
    path.write_text(text.replace("approve_below = 0.25", "approve_below = 0.2"))
    return str(path)


def export_sample(path: Path, site) -> str:
    r = CliRunner().invoke(cli, ["features", "export-sample", str(path)], env=site["env"])
    assert r.exit_code == 0, r.output
    return str(path)


def outcome_file(path: Path, site) -> str:
    """One observed outcome per decision of the site, and one line the store must refuse."""
    observed = time.strftime("%Y-%m-%d", time.gmtime())
    lines = [json.dumps({"decision_id": d["decision_id"], "defaulted": i % 5 == 0,
                         "observed_at": observed})
             for i, d in enumerate(site["decisions"])]
    lines.append(json.dumps({"decision_id": "no-such-decision", "defaulted": False,
                             "observed_at": observed}))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run_simulators(args: list[str], env: dict[str, str]) -> None:
    """`credit simulators` serves until stopped: on a free port, it must answer /healthz."""
    port = str(servers.free_port())
    args = [port if a == "8100" else a for a in args]
    with servers.process([sys.executable, "-m", "app.cli", *args],
                         f"http://127.0.0.1:{port}/healthz", env):
        pass


@pytest.mark.parametrize(("runbook", "command"), COMMANDS,
                         ids=[f"{r}:{c}" for r, c in COMMANDS])
def test_runbook_command_runs_as_written(runbook, command, site, postgres, tmp_path,
                                        monkeypatch):
    monkeypatch.chdir(tmp_path)  # files a command names relatively (rejected.csv) land here
    args = fill(command, site, tmp_path)
    env = dict(site["env"])
    if args[0] == "simulators":
        run_simulators(args, env)
        return
    if args[:1] == ["train"]:
        args += FAST_TRAIN
    if args[0] == "db":
        db = new_postgres_db(postgres, template="template0" if "upgrade" in args else
                             "credit_template")
        env |= {"CREDIT_POSTGRES_URL": db.url, "CREDIT_POSTGRES_ADMIN_URL": db.admin_url}
        try:
            result = CliRunner().invoke(cli, args, env=env)
        finally:
            drop_postgres_db(postgres, db)
    else:
        result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, f"{runbook}: `{command}` -> {args}\n{result.output}"
    assert "Traceback" not in result.output
    if args[:2] == ["outcomes", "ingest"]:  # the refused line is named in the rejects file
        assert "no such decision" in (tmp_path / "rejected.csv").read_text()


def test_runbooks_have_commands():
    """The extraction itself: a runbook rewrite that hid every command would pass vacuously."""
    assert len(COMMANDS) >= 25
    assert {r for r, _ in COMMANDS} >= {"erasure.md", "key-rotation.md", "model-rollback.md",
                                        "postgres-failover.md", "review-queue.md"}
