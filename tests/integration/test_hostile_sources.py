"""A source answering numbers JSON cannot hold exactly (Infinity, NaN, 1e400): the answer is
malformed, the decision degrades, the record holds exactly what the model saw, and it
replays identically (issue: the record used to store null where the model saw infinity)."""

import asyncio

import pytest

from app.simulators.server import application_for_row
from audit.records import DecisionRecord, parse_record
from decision.policy import Policy
from decision.replay import ScorerCache, replay_record
from models.registry import ModelRegistry
from tests.integration.rollout_app import client, settings_for


@pytest.mark.parametrize("source,field,token", [("bureau", "debt", "Infinity"),
                                                ("bureau", "debt", "1e400"),
                                                ("open_banking", "income", "NaN"),
                                                ("open_banking", "assets", "-1e999")])
def test_non_finite_answers_degrade_and_replay(data_dir, fault_simulators_url, faults, source,
                                               field, token):
    faults.set(source, raw_fields={field: token})
    settings = settings_for(data_dir, fault_simulators_url, bureau_cache_ttl_s=0,
                            open_banking_cache_ttl_s=0)

    async def scenario():
        async with client(settings) as (c, services):
            r = await c.post("/v1/decisions", json=application_for_row(
                9, application_id=f"HOSTILE-{source}-{token}"))
            rec = parse_record(services.audit.get_decision(r.json()["decision_id"]).body)
            return r, rec, services.builder.record_reader.inputs(rec)

    r, rec, inputs = asyncio.run(scenario())
    assert r.status_code == 200, r.text
    assert {"source": source, "reason": "malformed", "code": f"{source}_unavailable"} in \
        r.json()["degraded"]
    assert isinstance(rec, DecisionRecord) and rec.enrichment[source].status == "degraded"
    assert inputs.sources[source] is None  # nothing of the hostile answer was kept
    registry = ModelRegistry(settings.mlflow_uri, settings.model_name,
                             settings.mlflow_artifacts_dir)
    replayed = replay_record(rec, inputs, ScorerCache(registry.load), Policy.load())
    assert replayed.identical, replayed.differences
