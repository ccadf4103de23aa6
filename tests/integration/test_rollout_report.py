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

from app.adapters.simulators import application_for_row
from audit.sqlite import SQLiteAuditStore
from shadow.cli import write_prom
from shadow.concordance import report as build_report
from tests.conftest import fresh_data_dir
from tests.integration.rollout_app import client, settings_for
from training.data import load_credit_data

LABELS = ["approve", "refer", "decline"]


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
