"""`credit train --from-audit`: decisions made by the real decision path under a permissive
policy version (published through the policy history), outcomes reported for the approved
loans; the training set is those decisions' recorded raw inputs with their outcomes, the
declined and referred applicants excluded and counted."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from typer.testing import CliRunner

from app.builder import Builder
from app.cli import cli
from app.schemas import COUNTRIES, Application
from app.services import build_services
from app.settings import Settings
from app.simulators.server import application_for_row
from decision.policy import Policy
from training.data import LABEL, load_credit_data

pytestmark = pytest.mark.slow
N = 240


def permissive() -> str:
    text = (Policy.load().text or "").replace('version = "2026.11.3"', 'version = "wide"')
    for v in ("0.25", "0.22", "0.20"):
        text = text.replace(f"approve_below = {v}", "approve_below = 0.9")
    return text.replace("decline_at = 0.55", "decline_at = 0.95").replace(
        "decline_at = 0.50", "decline_at = 0.95")


@pytest.fixture(scope="module")
def recorded(trained, simulators_url, tmp_path_factory):
    from tests.conftest import GENEROUS_DEADLINES, fresh_data_dir

    data_dir = fresh_data_dir(trained, tmp_path_factory.mktemp("from-audit"))
    settings = Settings(data_dir=data_dir, bureau_url=f"{simulators_url}/bureau",
                        open_banking_url=f"{simulators_url}/open-banking",
                        audit_digest_interval_s=0, enrichment_timeout_s=2.0,
                        enrichment_deadline_s=3.0, **GENEROUS_DEADLINES)
    b = Builder(settings)
    b.policy_admin.propose(permissive(), reason="learn from a wide approval band", actor="a",
                           actor_id="a")
    b.policy_admin.approve("wide", reason="experiment approved", actor="b", actor_id="b")
    b.close()
    df = load_credit_data()
    rows = [1 + (i * 17) % (len(df) - 1) for i in range(N)]
    apps = [Application.model_validate(application_for_row(
        r, df, application_id=f"FA-{i}", country=COUNTRIES[i % len(COUNTRIES)]), strict=False)
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
    b = Builder(settings)
    items = [{"decision_id": d.response["decision_id"],
              "defaulted": bool(df.iloc[rows[i] - 1][LABEL] == 1),
              "observed_at": date.today().isoformat(), "loan_taken": True}
             for i, d in enumerate(decided) if d.response["outcome"] == "approve"]
    assert not b.outcomes.ingest(items, source="api", actor="tests", strict=False).rejected
    b.close()
    return {"CREDIT_DATA_DIR": str(data_dir), "COLUMNS": "200"}, decided, len(items)


def test_train_from_audit_uses_recorded_inputs_with_outcomes_only(recorded):
    env, decided, approvals = recorded
    assert approvals >= 100
    r = CliRunner().invoke(cli, ["train", "--from-audit", "--trials", "1", "--cv-folds", "0",
                                 "--n-boot", "10", "--alias", "challenger"], env=env)
    assert r.exit_code == 0, r.output
    assert f"{N} decisions, {approvals} with an outcome, {N - approvals} without" in r.output
    assert f"{approvals} rows, bad rate" in r.output
    assert "registered version" in r.output and "policy draft (not live)" in r.output
