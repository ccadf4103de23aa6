"""The decision route and the orchestrator in-process (real model, real simulators over
HTTP): the per-key limit, and a concurrent duplicate with another body."""

import asyncio

from app.simulators.server import application_for_row
from tests.integration.rollout_app import client, settings_for


def test_the_per_key_limit_applies_to_decisions(data_dir, simulators_url):
    """Past CREDIT_RATE_LIMIT_PER_CLIENT a key gets 429, whatever the customer."""
    settings = settings_for(data_dir, simulators_url, rate_limit_per_client="2/minute")

    async def scenario():
        async with client(settings) as (c, _):
            return [(await c.post("/v1/decisions", json=application_for_row(
                50 + i, application_id=f"LIMIT-{i}"))).status_code for i in range(3)]

    assert asyncio.run(scenario()) == [200, 200, 429]


def test_a_concurrent_duplicate_with_another_body_is_a_conflict(data_dir, fault_simulators_url,
                                                                  faults):
    """Two requests for one application id at once, bodies differing: the one that waits
    for the first must not be answered with the first's decision (409), and only one
    decision is recorded."""
    faults.set("bureau", latency_ms=300)  # both requests are in flight together
    settings = settings_for(data_dir, fault_simulators_url, enrichment_timeout_s=2,
                            enrichment_deadline_s=3)
    body = application_for_row(60, application_id="RACE-60")
    other = {**body, "loan": {**body["loan"], "amount": body["loan"]["amount"] + 1}}

    async def scenario():
        async with client(settings) as (c, services):
            first, second = await asyncio.gather(c.post("/v1/decisions", json=body),
                                                 c.post("/v1/decisions", json=other))
            return first, second, services.audit.get_by_application("RACE-60")

    first, second, stored = asyncio.run(scenario())
    assert first.status_code == 200 and second.status_code == 409
    assert second.json()["error"] == "idempotency_conflict"
    assert stored is not None
