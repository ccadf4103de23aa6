"""`credit shadow report`: its figures recomputed independently from the audit log match."""

import asyncio
import json
import math
import os
import sqlite3
import subprocess
import sys
from collections import Counter

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from app.cli.shadow import write_prom
from app.simulators.server import application_for_row
from audit.sqlite import SQLiteAuditStore
from shadow.concordance import report as build_report
from tests.conftest import fresh_data_dir
from tests.integration.rollout_app import client, settings_for
from training.data import load_credit_data

LABELS = ["approve", "refer", "decline"]
VELOCITY_RUNS = 8  # the policy refers above 5 applications in 24 hours


def independent(db_path, country=None):
    """Straight from the SQLite file: every decision record with a compared shadow."""
    con = sqlite3.connect(db_path)
    rows = []
    for (body,) in con.execute("SELECT body FROM entries"):
        rec = json.loads(body)
        if rec.get("type") != "decision" or (country and rec["country"] != country):
            continue
        cmp = (rec.get("shadow") or {}).get("comparison")
        if cmp:
            rows.append({"legacy": cmp["legacy_outcome"], "model": cmp["model_outcome"],
                         "points": cmp["legacy_points"], "pd": cmp["model_probability"],
                         "country": rec["country"], "id": rec["decision_id"]})
    con.close()
    return pd.DataFrame(rows)


def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.fixture(scope="module")
def decided(trained, tmp_path_factory, simulators_url):
    """Decisions in two countries: ES at a 50% canary, PT in shadow mode."""
    data_dir = fresh_data_dir(trained, tmp_path_factory.mktemp("report"))
    df = load_credit_data()
    # A generous shadow budget: on a loaded test machine the default would lose pairs.
    settings = settings_for(data_dir, simulators_url, shadow_budget_ms=1000)

    async def scenario():
        async with client(settings) as (c, _):
            for country, body in (("ES", {"mode": "canary", "percent": 50}),
                                  ("PT", {"mode": "shadow"})):
                r = await c.put(f"/v1/flags/{country}", json={**body, "reason": "report test"})
                assert r.status_code == 200
            for i, row in enumerate(range(3, 4400, 29)):
                country = "ES" if i % 3 else "PT"
                r = await c.post("/v1/decisions", json=application_for_row(
                    row, df, application_id=f"REP-{row}", country=country))
                assert r.status_code == 200
            # One PT applicant (legacy decides, the model in shadow) applies again and
            # again: past 5 a day the velocity rule must refer the shadow model arm too.
            for i in range(VELOCITY_RUNS):
                r = await c.post("/v1/decisions", json=application_for_row(
                    1, df, application_id=f"REP-VEL-{i}", country="PT"))
                assert r.status_code == 200

    asyncio.run(scenario())
    return data_dir


def run_report(data_dir, *args):
    out = subprocess.run([sys.executable, "-m", "app.cli", "shadow", "report", "--json", *args],
                         env={**os.environ, "CREDIT_DATA_DIR": str(data_dir)},
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_report_figures_match_an_independent_recomputation(decided):
    report = run_report(decided, "--limit", "1000")
    frame = independent(decided / "audit.db")
    assert len(frame) > 100
    for name, part in [("ALL", frame), *frame.groupby("country")]:
        s = report["overall"] if name == "ALL" else report["by_country"][name]
        agree = int((part["legacy"] == part["model"]).sum())
        assert (s["n"], s["agree"]) == (len(part), agree)
        assert s["wilson"] == pytest.approx(wilson(agree, len(part)), abs=1e-9)
        assert s["kappa"] == pytest.approx(cohen_kappa_score(part["legacy"], part["model"],
                                                             labels=LABELS))
        assert s["spearman"] == pytest.approx(part["points"].corr(part["pd"], method="spearman"))
        counts = Counter(zip(part["legacy"], part["model"], strict=True))
        assert s["table"]["counts"] == [[counts[(a, b)] for b in LABELS] for a in LABELS]
    disagreeing = set(frame.loc[frame["legacy"] != frame["model"], "id"])
    assert {d["decision_id"] for d in report["discrepancies"]} == disagreeing
    assert report["shadow_runs"].get("ok", 0) == len(frame)
    # Points rank risk the other way round from the PD.
    assert report["overall"]["spearman"] < 0


def in_process(data_dir, country=None, since=None):
    store = SQLiteAuditStore(data_dir / "audit.db")
    try:
        return build_report(store.entries(), country, since)
    finally:
        store.close()


def test_report_filters(decided):
    from datetime import date

    es = in_process(decided, "ES")
    frame = independent(decided / "audit.db", "ES")
    assert es["overall"]["n"] == len(frame) and set(es["by_country"]) == {"ES"}
    assert in_process(decided, since=date(2999, 1, 1))["overall"] == {"n": 0}
    days = in_process(decided)["by_day"]
    assert sum(d["n"] for d in days.values()) == len(independent(decided / "audit.db"))


def test_report_writes_prometheus_gauges(decided, tmp_path):
    prom = tmp_path / "shadow.prom"
    report = in_process(decided)
    write_prom(report, prom)
    text = prom.read_text()
    expected = report["by_country"]["ES"]["agreement"]
    line = next(x for x in text.splitlines()
                if x.startswith('credit_shadow_report_agreement_ratio{country="ES"}'))
    assert float(line.split()[-1]) == pytest.approx(expected)


def test_concordance_recomputed_with_the_live_policy_and_recorded_velocity(decided, trained):
    """Both arms re-run on every compared record (its raw inputs, its velocity, its model
    version, today's policy) give exactly the recorded outcomes, so the report's figures are
    those of the one policy the model arm uses live; the velocity-referred applicant is
    referred by the shadow model arm too."""
    from app.builder import Builder
    from app.settings import Settings
    from audit.records import DecisionRecord, parse_record
    from decision.arms import LegacyArm, ModelArm
    from decision.policy import Policy
    from decision.replay import ScorerCache, case_of
    from models.registry import ModelRegistry
    from shadow.concordance import Pair, summarize
    from shadow.scorecard import Scorecard

    settings, _ = trained
    registry = ModelRegistry(settings.mlflow_uri, settings.model_name,
                             settings.mlflow_artifacts_dir)
    scorers = ScorerCache(registry.load)
    model, legacy = ModelArm(Policy.load()), LegacyArm(Scorecard.load())
    store = SQLiteAuditStore(decided / "audit.db")
    reader = Builder(Settings(data_dir=decided)).record_reader
    pairs, velocity_refs = [], []
    for entry in store.entries():
        rec = parse_record(entry.body)
        if not isinstance(rec, DecisionRecord) or rec.shadow is None:
            continue
        cmp = rec.shadow.comparison
        assert cmp is not None, rec.shadow
        case = case_of(rec, reader.inputs(rec), scorers(rec.model.version))
        live_is_model = rec.flags.decided_by == "model"
        m, lg = model.evaluate(case, explain=live_is_model), legacy.evaluate(case)
        assert (lg.outcome, m.outcome, lg.points, m.probability_of_default) == (
            cmp.legacy_outcome, cmp.model_outcome, cmp.legacy_points, cmp.model_probability)
        pairs.append(Pair(rec.decision_id, rec.country, rec.decided_at[:10],
                          rec.flags.decided_by, lg.outcome, m.outcome, lg.points,
                          m.probability_of_default))
        if rec.application_id.startswith("REP-VEL-"):
            velocity_refs.append((reader.inputs(rec).velocity["customer_applications_24h"],
                                  cmp.model_outcome,
                                  [f.rule for f in m.policy.fired]))
    store.close()
    assert summarize(pairs) == in_process(decided)["overall"]
    assert len(velocity_refs) == VELOCITY_RUNS
    over = [(outcome, fired) for n, outcome, fired in velocity_refs if n > 5]
    assert len(over) == VELOCITY_RUNS - 5
    assert all(outcome == "refer" and "customer_velocity" in fired for outcome, fired in over)
