"""Replay: decisions made by the real decision path re-score identically from their records
with their recorded model version, also after a new champion was trained; decisions the
legacy scorecard made (PT runs in legacy mode here) re-run through the scorecard."""

import asyncio
import os
import subprocess
import sys

import orjson
import pytest

from app.builder import Builder
from app.schemas import COUNTRIES, Application
from app.services import build_services
from app.settings import Settings
from app.simulators.server import application_for_row
from audit.records import parse_record
from decision.policy import Policy
from decision.replay import ScorerCache, replay_record
from feature_flags.file import FileFlagStore
from feature_flags.model import default_flag
from models.registry import ModelRegistry
from training.data import load_credit_data
from training.train import TrainConfig, train

N = 200  # 1,000 and more: benchmarks/audit.py --replay


@pytest.fixture(scope="module")
def decided(trained, simulators_url, tmp_path_factory):
    """N decisions through the orchestrator (in-process, real simulators over HTTP), then a
    second model version is trained and made champion."""
    from tests.conftest import GENEROUS_DEADLINES, fresh_data_dir

    data_dir = fresh_data_dir(trained, tmp_path_factory.mktemp("replay"))
    settings = Settings(data_dir=data_dir, bureau_url=f"{simulators_url}/bureau",
                        open_banking_url=f"{simulators_url}/open-banking",
                        audit_digest_interval_s=0, **GENEROUS_DEADLINES)
    FileFlagStore(settings.flags_path).put(default_flag("PT", "legacy"), 0)
    df = load_credit_data()
    rows = [1 + (i * 7) % (len(df) - 1) for i in range(N)]
    # The last 8 are one applicant again and again: past 5 a day the velocity rule refers,
    # and replay must use the counts recorded at decision time.
    rows[-8:] = [1] * 8  # row 1: an applicant the model approves
    apps = [Application.model_validate(application_for_row(
        r, df, application_id=f"RP-{i}", country=COUNTRIES[i % len(COUNTRIES)]), strict=False)
        for i, r in enumerate(rows)]

    async def run():
        services = build_services(settings)
        try:
            out = []
            for chunk in range(0, N, 50):
                out += await asyncio.gather(*(services.orchestrator.decide(a)
                                              for a in apps[chunk:chunk + 50]))
            return out, services.audit.chain_id
        finally:
            await services.aclose()

    outcomes, _ = asyncio.run(run())
    recorded_version = outcomes[0].response["model_version"]
    new = train(Builder(settings).registry, alias="champion",
                config=TrainConfig(trials=1, cv_folds=0, n_boot=10, explain_rows=100,
                                   max_rounds=20, seed=11))
    assert new.version != recorded_version
    return settings, outcomes, recorded_version


def test_every_decision_replays_identically(decided):
    """All N decisions: same probability, outcome, grade, base value and contributions."""
    settings, outcomes, version = decided
    from audit.sqlite import SQLiteAuditStore

    store = SQLiteAuditStore(settings.audit_db_path)
    registry = ModelRegistry(settings.mlflow_uri, settings.model_name,
                             settings.mlflow_artifacts_dir)
    scorers, policy = ScorerCache(registry.load), Policy.load()
    reader = Builder(settings).record_reader
    recs = [parse_record(store.get_decision(o.response["decision_id"]).body) for o in outcomes]
    results = [replay_record(rec, reader.inputs(rec), scorers, policy) for rec in recs]
    assert len(results) == N
    assert [r.differences for r in results if not r.identical] == []
    by = {arm: [r for r in results if r.decided_by == arm] for arm in ("model", "legacy")}
    assert len(by["legacy"]) == N // len(COUNTRIES) and {r.version for r in by["model"]} == {version}
    for arm in by.values():
        assert len({r.replayed["outcome"] for r in arm}) >= 2
    fired = [f["rule"] for o in outcomes[-8:] if o.response["decided_by"] == "model"
             for f in orjson.loads(store.get_decision(o.response["decision_id"]).body)
             ["policy"]["fired"]]
    assert "customer_velocity" in fired  # the velocity case above was really exercised


def test_replay_shows_a_difference(decided):
    """A record whose inputs were changed, or scored with another version, shows the diff."""
    settings, outcomes, version = decided
    from audit.sqlite import SQLiteAuditStore

    store = SQLiteAuditStore(settings.audit_db_path)
    registry = ModelRegistry(settings.mlflow_uri, settings.model_name,
                             settings.mlflow_artifacts_dir)
    scorers, reader = ScorerCache(registry.load), Builder(settings).record_reader

    def replay(i, raw=None, version=None):
        rec = parse_record(store.get_decision(outcomes[i].response["decision_id"]).body)
        inputs = reader.inputs(rec)
        if raw:
            inputs = inputs.model_copy(update={"raw_inputs": {**inputs.raw_inputs, **raw}})
        if version:
            rec = rec.model_copy(update={"model": rec.model.model_copy(
                update={"version": version})})
        return rec, replay_record(rec, inputs, scorers, Policy.load())

    rec, changed = replay(0, raw={"amount": 99_000.0})
    assert not changed.identical
    assert any(d.startswith("probability_of_default") for d in changed.differences)
    rec, changed = replay(1, raw={"income": 10.0})
    assert rec.response.decided_by == "legacy"
    assert {d.split(":")[0] for d in changed.differences} >= {"features", "points", "shortfalls"}
    champion = registry.version_for("champion")
    assert not replay(2, version=champion)[1].identical


def test_cli_replay(decided):
    """`credit audit replay ID` exits 0 and says IDENTICAL."""
    settings, outcomes, version = decided
    env = {**os.environ, "CREDIT_DATA_DIR": str(settings.data_dir)}
    for i, arm, says in ((5, "model", f"model version {version}"), (9, "legacy", "scorecard")):
        did = outcomes[i].response["decision_id"]
        ok = subprocess.run([sys.executable, "-m", "app.cli", "audit", "replay", did, "--json"],
                            env=env, capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr
        assert "IDENTICAL" in ok.stderr and says in ok.stderr
        assert orjson.loads(ok.stdout)["decided_by"] == arm


def test_cli_verify_and_export(decided, tmp_path):
    """`credit audit verify` is OK against the shutdown digest; an ES export verifies
    standalone and holds exactly the ES decisions."""
    settings, outcomes, _ = decided
    env = {**os.environ, "CREDIT_DATA_DIR": str(settings.data_dir)}
    v = subprocess.run([sys.executable, "-m", "app.cli", "audit", "verify"], env=env,
                       capture_output=True, text=True)
    assert v.returncode == 0 and f"OK: {N} records" in v.stderr and "digest of" in v.stderr
    out = tmp_path / "es"
    e = subprocess.run([sys.executable, "-m", "app.cli", "audit", "export", "--country", "ES",
                        "--from", "2020-01-01", "--to", "2100-01-01", "--out", str(out),
                        "--settle-seconds", "0"], env=env, capture_output=True, text=True)
    assert e.returncode == 0, e.stderr
    es = sum(o.response["application_id"] and o.response["decision_id"] is not None
             and i % len(COUNTRIES) == 0 for i, o in enumerate(outcomes))
    x = subprocess.run([sys.executable, "-m", "audit.verify_export", str(out), "--public-key",
                        str(settings.keys_dir / "audit-digest.pub.pem")],
                       capture_output=True, text=True)
    assert x.returncode == 0 and x.stdout.startswith(f"OK: {es} records of ES"), x.stderr
