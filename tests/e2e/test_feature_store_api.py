"""The API on the production feature store (Redis over DynamoDB): cached enrichment, velocity in
the record and in the rules, and no 5xx while Redis is frozen."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from app.simulators.server import application_for_row
from tests import servers
from tests.conftest import api_env, create_key
from training.data import load_credit_data


@pytest.mark.slow
def test_tiered_store_through_the_api(data_dir, simulators_url, dynamodb_endpoint, tmp_path):
    """Second application of an applicant: both sources from the cache, velocity 2; with Redis
    frozen the API still answers 200 from DynamoDB; beyond 5 a day the velocity rule refers."""
    df = load_credit_data()
    with servers.redis_server() as (redis_url, redis_proc):
        env = api_env(data_dir, simulators_url, CREDIT_FEATURE_STORE="tiered",
                      CREDIT_REDIS_URL=redis_url, CREDIT_DYNAMODB_ENDPOINT=dynamodb_endpoint)
        headers = {"Authorization": f"Bearer {create_key(data_dir)}"}
        with servers.api(env, log=tmp_path / "api.log") as base, \
                httpx.Client(base_url=base, timeout=10, headers=headers) as client:
            def decide(n: int) -> tuple[dict, dict]:
                r = client.post("/v1/decisions", json=application_for_row(
                    7, df, application_id=f"FS-{n}"))
                assert r.status_code == 200, r.text
                d = r.json()
                return d, client.get(f"/v1/decisions/{d['decision_id']}").json()

            _, first = decide(1)
            assert all("cache" not in s for s in first["enrichment"].values())
            assert first["personal_data"]["inputs"]["velocity"]["national_id_applications_24h"] == 1
            _, second = decide(2)
            assert all(s["cache"]["hit"] for s in second["enrichment"].values())
            assert second["enrichment"]["bureau"]["raw_sha256"] == \
                first["enrichment"]["bureau"]["raw_sha256"]
            assert second["personal_data"]["inputs"]["features"] == \
                first["personal_data"]["inputs"]["features"]
            assert second["personal_data"]["inputs"]["velocity"]["customer_applications_1h"] == 2

            os.kill(redis_proc.pid, signal.SIGSTOP)
            try:
                d, frozen = decide(3)
            finally:
                os.kill(redis_proc.pid, signal.SIGCONT)
            assert d["degraded"] == []
            assert all(s["cache"]["hit"] for s in frozen["enrichment"].values())
            assert frozen["personal_data"]["inputs"]["velocity"]["national_id_applications_24h"] == 3

            for n in (4, 5):
                decide(n)
            d, sixth = decide(6)
            assert d["outcome"] == "refer"
            fired = {f["rule"] for f in sixth["policy"]["fired"]}
            assert {"customer_velocity", "national_id_velocity"} <= fired
