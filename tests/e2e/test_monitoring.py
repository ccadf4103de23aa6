"""Outcomes and monitoring end to end: credit_data applicants decided by a real API server
(ES under a 50% canary, PT with doubled loan amounts), their true status ingested as
outcome files through `credit outcomes ingest`, and the monitoring endpoints checked
against independent counts from the decision responses."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from app.simulators.server import application_for_row
from audit.governance_records import OutcomeBatch
from audit.records import parse_record
from audit.sqlite import SQLiteAuditStore
from tests import servers
from tests.conftest import api_env, create_key, fresh_data_dir
from training.data import load_credit_data

N_ES, N_PT = 400, 250
# Doubling the loan amount moves `amount` and the three features computed from it in
# models/features.py: loan_to_price (amount / price), monthly_payment (amount / term) and
# payment_to_income (monthly_payment / income). No other feature reads the amount.
SHIFTED = {"amount", "loan_to_price", "monthly_payment", "payment_to_income"}


@dataclass
class Stack:
    url: str
    data_dir: Path
    env: dict[str, str]
    api: httpx.Client
    df: pd.DataFrame
    es: list[tuple[int, dict]]  # (credit_data row, decision response)
    pt: list[tuple[int, dict]]


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@pytest.fixture(scope="module")
def stack(trained, simulators_url, tmp_path_factory):
    data = fresh_data_dir(trained, tmp_path_factory.mktemp("monitoring"))
    # A generous shadow budget (every legacy decision gets the model's PD for the
    # counterfactual) and enrichment deadline (no degraded sources on a busy machine);
    # gauges refreshed every second.
    env = api_env(data, simulators_url, CREDIT_SHADOW_BUDGET_MS="1000",
                  CREDIT_ENRICHMENT_TIMEOUT_S="2", CREDIT_ENRICHMENT_DEADLINE_S="3",
                  CREDIT_MONITORING_REFRESH_S="1")
    df = load_credit_data()
    rows = np.random.default_rng(17).permutation(np.arange(1, len(df) + 1))
    headers = {"Authorization": f"Bearer {create_key(data, name='risk-officer')}"}
    with servers.api(env, log=data / "api.log") as url, \
            httpx.Client(base_url=url, headers=headers, timeout=30) as api:
        r = api.put("/v1/flags/ES", json={"mode": "canary", "percent": 50, "reason": "pilot"})
        assert r.status_code == 200, r.text

        def decide(job: tuple[str, int]) -> tuple[int, dict]:
            country, row = job
            body = application_for_row(row, df, application_id=f"MON-{country}-{row}",
                                       country=country)
            if country == "PT":
                body["loan"]["amount"] *= 2
            r = api.post("/v1/decisions", json=body)
            assert r.status_code == 200, r.text
            return row, r.json()

        jobs = [("ES", int(r)) for r in rows[:N_ES]] + [("PT", int(r))
                                                        for r in rows[N_ES:N_ES + N_PT]]
        with ThreadPoolExecutor(4) as pool:
            done = list(pool.map(decide, jobs))
        assert not [d for _, d in done if d["degraded"]], "degraded decisions skew the drift"
        yield Stack(url, data, env, api, df, done[:N_ES], done[N_ES:])


def credit(stack: Stack, *args: str) -> str:
    """`credit ARGS` in this process (a new process would spend seconds on imports), with
    the server's settings; its standard output."""
    from typer.testing import CliRunner

    from app.cli import cli

    result = CliRunner().invoke(cli, list(args), env=stack.env)
    assert result.exit_code == 0, result.output
    return result.stdout


def ingest(stack: Stack, path: Path, *args: str) -> dict:
    return json.loads(credit(stack, "outcomes", "ingest", str(path), "--json", *args))


def truth(stack: Stack, decided: list[tuple[int, dict]]) -> pd.DataFrame:
    return pd.DataFrame([{"decision_id": d["decision_id"],
                          "defaulted": bool(stack.df.loc[row, "bad"]), "observed_at": today()}
                         for row, d in decided])


def performance(stack: Stack, **params) -> list[dict]:
    r = stack.api.get("/v1/monitoring/performance", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["freshness"]["caught_up"]
    return r.json()["groups"]


@pytest.fixture(scope="module")
def es_outcomes(stack, tmp_path_factory):
    """ES applicants' true status (credit_data's Status), ingested once as a CSV file."""
    path = tmp_path_factory.mktemp("outcomes") / "es-status.csv"
    truth(stack, stack.es).to_csv(path, index=False)
    return path, ingest(stack, path)


def test_canary_bad_rates_per_arm_equal_an_independent_count(stack, es_outcomes, trained):
    """Per deciding arm: decisions, approvals, defaults among the approved, the bad rate and
    its Wilson interval, and the mean PD, all as counted from the responses and the data."""
    _, summary = es_outcomes
    assert (summary["accepted"], summary["rejected"]) == (N_ES, 0)
    groups = {g["decided_by"]: g for g in performance(stack, country="ES")}
    assert set(groups) == {"model", "legacy"}
    for arm, g in groups.items():
        mine = [(row, d) for row, d in stack.es if d["decided_by"] == arm]
        approved = [(row, d) for row, d in mine if d["outcome"] == "approve"]
        bad = sum(int(stack.df.loc[row, "bad"]) for row, _ in approved)
        assert (g["decisions"], g["approved"], g["approved_with_outcome"], g["defaults"]) == (
            len(mine), len(approved), len(approved), bad)
        assert g["bad_rate_approved"] == pytest.approx(bad / len(approved))
        ci = binomtest(bad, len(approved)).proportion_ci(method="wilson")
        assert g["bad_rate_approved_ci"] == pytest.approx([ci.low, ci.high])
        assert g["outcomes_not_approved"] == len(mine) - len(approved)
    model = groups["model"]
    assert model["model_version"] == trained[1].version and groups["legacy"]["model_version"] is None
    pds = [d["probability_of_default"] for _, d in stack.es
           if d["decided_by"] == "model" and d["outcome"] == "approve"]
    assert model["mean_pd_approved"] == pytest.approx(np.mean(pds))
    # The legacy arm's approvals were scored by the model in shadow: the counterfactual.
    shadow = groups["legacy"]["shadow"]
    assert shadow["arm"] == "model" and shadow["compared"] == groups["legacy"]["decisions"]
    split = shadow["both_approved"]["loans"] + shadow["only_live_approved"]["loans"]
    assert split == groups["legacy"]["approved"]


def test_ingesting_the_same_file_twice_changes_nothing(stack, es_outcomes):
    """Every row a duplicate; the figures are the same; the resend is on record too, and the
    audit log still verifies."""
    path, first = es_outcomes
    before = performance(stack, country="ES")
    again = ingest(stack, path, "--restart")
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, N_ES, 0)
    assert performance(stack, country="ES") == before
    store = SQLiteAuditStore(stack.data_dir / "audit.db")
    recorded = [r for e in store.entries() if isinstance(r := parse_record(e.body), OutcomeBatch)]
    store.close()
    assert {r.batch_id for r in recorded} >= set(first["batches"] + again["batches"])
    assert {r.source_name for r in recorded} == {path.name}
    assert stack.api.get("/v1/audit/verify").json()["ok"]


def test_a_file_with_bad_rows_keeps_all_the_good_ones(stack, tmp_path):
    """Bad rows are refused by row number and reason; every good row is ingested."""
    good = truth(stack, stack.pt).astype({"defaulted": str})
    bad = pd.DataFrame([{"decision_id": "0" * 32, "defaulted": "true", "observed_at": today()},
                        {"decision_id": stack.pt[0][1]["decision_id"], "defaulted": "maybe",
                         "observed_at": today()},
                        {"decision_id": stack.pt[1][1]["decision_id"], "defaulted": "false",
                         "observed_at": "2026-13-01"},
                        {"decision_id": "", "defaulted": "false", "observed_at": today()}])
    rows = pd.concat([good.iloc[:100], bad.iloc[:2], good.iloc[100:], bad.iloc[2:]],
                     ignore_index=True)
    path, rejects = tmp_path / "pt-status.csv", tmp_path / "rejects.csv"
    rows.to_csv(path, index=False)
    out = ingest(stack, path, "--rejects", str(rejects), "--batch-size", "100")
    assert (out["rows"], out["accepted"], out["rejected"]) == (N_PT + 4, N_PT, 4)
    refused = [(r["row"], r["error"].split(":")[0]) for r in out["rejected_rows"]]
    assert refused == [(101, "decision_id"), (102, "defaulted"), (N_PT + 3, "observed_at"),
                       (N_PT + 4, "decision_id")]
    assert pd.read_csv(rejects)["row"].tolist() == [101, 102, N_PT + 3, N_PT + 4]
    [g] = performance(stack, country="PT")
    assert g["approved_with_outcome"] == g["approved"] > 0


def drift(stack: Stack, **params) -> dict:
    r = stack.api.get("/v1/monitoring/drift", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_shifted_amounts_raise_the_alert_for_the_amount_features_only(stack, trained):
    """PT's doubled amounts: alert for SHIFTED (amount and the three features computed
    from it), every other feature stable."""
    d = drift(stack, country="PT")
    assert (d["model_version"], d["decisions"]) == (trained[1].version, N_PT)
    status = {f["name"]: f["status"] for f in d["features"]}
    assert {n for n, s in status.items() if s == "alert"} == SHIFTED
    assert all(s == "ok" for n, s in status.items() if n not in SHIFTED), status


def test_an_unshifted_batch_raises_no_drift(stack):
    """credit_data applicants as they are: every feature and the score stable."""
    d = drift(stack, country="ES")
    assert d["decisions"] == N_ES and d["status"] == "ok"
    assert {f["status"] for f in d["features"]} == {"ok"} and d["score"]["status"] == "ok"


def test_gauges_show_the_drift_the_api_reports(stack):
    """The background refresh puts PSI per feature into /metrics, as GET /drift says. A
    refresh may have run while the projection was still catching up: the gauges must reach
    what the API says by a later one."""
    deadline = time.monotonic() + 30
    while True:
        expected = {f["name"]: f["psi"] for f in drift(stack)["features"]}
        text = stack.api.get("/metrics").text
        found = {k: float(v) for k, v in re.findall(
            r'credit_monitoring_feature_psi\{feature="(\w+)",model_version="\w+"\} '
            r'([0-9.e+-]+)', text)}
        if found == pytest.approx(expected) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert found == pytest.approx(expected)


def test_outcomes_api_takes_each_item_on_its_own_and_needs_its_scope(stack):
    """A bad or unknown item is refused with its index; resending is a duplicate; the
    outcomes:write scope is needed, and it does not read monitoring."""
    key = create_key(stack.data_dir, ["outcomes:write"], name="lending-app")
    row, decision = stack.pt[5]
    ok = {"decision_id": decision["decision_id"], "observed_at": today(), "loan_taken": True,
          "defaulted": bool(stack.df.loc[row, "bad"]), "months_on_book": 1}
    body = {"outcomes": [ok, {**ok, "decision_id": "f" * 32}, {**ok, "defaulted": "no"}, 42]}
    with httpx.Client(base_url=stack.url, timeout=30,
                      headers={"Authorization": f"Bearer {key}"}) as lender:
        r = lender.post("/v1/outcomes", json=body)
        assert r.status_code == 200, r.text
        assert (r.json()["accepted"], r.json()["duplicates"]) == (1, 0)
        assert [x["index"] for x in r.json()["rejected"]] == [1, 2, 3]
        assert lender.post("/v1/outcomes", json={"outcomes": [ok]}).json()["duplicates"] == 1
        assert lender.get("/v1/monitoring/drift").status_code == 403
        assert lender.post("/v1/outcomes", json={"outcomes": []}).status_code == 422
        assert lender.post("/v1/outcomes", json={"outcomes": [ok] * 251}).status_code == 422
    reader = create_key(stack.data_dir, ["monitoring:read"], name="risk")
    r = httpx.post(f"{stack.url}/v1/outcomes", json=body, headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403


def test_cli_answers_as_the_api_and_writes_the_committee_report(stack, tmp_path, trained):
    """`credit monitor performance --json` gives the API's groups; `credit monitor report`
    writes one section per model version with performance, calibration and drift."""
    cli = json.loads(credit(stack, "monitor", "performance", "--json"))
    assert cli["groups"] == performance(stack)
    report = tmp_path / "pmm.html"
    credit(stack, "monitor", "report", "--html", str(report))
    html = report.read_text()
    assert f'data-version="{trained[1].version}"' in html
    for part in ("Calibration", "Drift against the training reference", "outcome_batch",
                 'data-testid="bad-rate-chart"', 'data-testid="drift-chart"'):
        assert part in html
