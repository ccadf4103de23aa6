"""The API on the DynamoDB audit store (moto server mode over HTTP): decisions are recorded,
idempotent, readable with their chain position, and verify against a signed digest; customer
data keys live in DynamoDB too, where another process's erasure destroys them."""

import os
import secrets
import subprocess
import sys
import time

import httpx

from app.simulators.server import application_for_row
from audit.dynamodb import DynamoDBCustomerKeyStore
from tests import servers
from tests.conftest import api_env, auth


def test_api_on_dynamodb(data_dir, simulators_url, dynamodb_endpoint):
    prefix = f"e2e{secrets.token_hex(4)}"
    env = api_env(data_dir, simulators_url, CREDIT_AUDIT_STORE="dynamodb",
                  CREDIT_DYNAMODB_ENDPOINT=dynamodb_endpoint,
                  CREDIT_DYNAMODB_TABLE_PREFIX=prefix,
                  CREDIT_AUDIT_DIGEST_INTERVAL_S="0.2")
    headers = auth(data_dir)
    with servers.api(env, log=data_dir / "api.log") as base, \
            httpx.Client(base_url=base, timeout=30, headers=headers) as c:
        body = application_for_row(21, application_id="DDB-21")
        first = c.post("/v1/decisions", json=body)
        again = c.post("/v1/decisions", json=body)
        assert first.status_code == again.status_code == 200
        assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
        rec = c.get(f"/v1/decisions/{first.json()['decision_id']}").json()
        assert rec["chain"]["seq"] == 1 and rec["response"] == first.json()
        c.post("/v1/decisions", json=application_for_row(22, application_id="DDB-22"))
        time.sleep(0.6)
        v = c.get("/v1/audit/verify").json()
        assert v["ok"] and v["checked"] == 2 and v["complete_until"]
        assert c.get("/v1/audit/digests/latest").json()["heads"][0]["seq"] == 2

    keys = DynamoDBCustomerKeyStore(prefix, endpoint=dynamodb_endpoint)
    refs = keys.key_refs()
    assert len(refs) == 2 and not (data_dir / "audit-customer-keys.db").exists()
    erase = subprocess.run([sys.executable, "-m", "app.cli", "audit", "erase", "C-21",
                            "--reason", "asked"], env={**os.environ, **env},
                           capture_output=True, text=True)
    assert erase.returncode == 0 and "ERASED" in erase.stderr, erase.stderr
    assert len(keys.key_refs()) == 1 and sum(keys.is_erased(r) for r in refs) == 1
    # The erasure went into the DynamoDB log, the anchor beside the data dir saw its digests.
    assert not (data_dir / "audit.db").exists()


def test_cli_commands_use_the_configured_audit_store(data_dir, dynamodb_endpoint):
    """`credit flags set`, `flags history` and `shadow report` with CREDIT_AUDIT_STORE=dynamodb
    write and read the DynamoDB log: no local audit file appears."""
    from audit.dynamodb import DynamoDBAuditStore
    from audit.governance_records import FlagChange
    from audit.records import parse_record

    prefix = f"cli{secrets.token_hex(4)}"
    env = {**os.environ, "COLUMNS": "200", "CREDIT_DATA_DIR": str(data_dir),
           "CREDIT_AUDIT_STORE": "dynamodb",
           "CREDIT_DYNAMODB_ENDPOINT": dynamodb_endpoint, "CREDIT_DYNAMODB_TABLE_PREFIX": prefix}

    def credit(*args):
        return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    s = credit("flags", "set", "ES", "--mode", "legacy", "--reason", "kill switch drill")
    assert s.returncode == 0, s.stderr
    history = credit("flags", "history", "ES")
    assert history.returncode == 0 and "kill switch drill" in history.stdout
    report = credit("shadow", "report", "--json")
    assert report.returncode == 0 and '"shadow_runs"' in report.stdout
    store = DynamoDBAuditStore(prefix, endpoint=dynamodb_endpoint)
    changes = [parse_record(e.body) for e in store.entries()]
    assert [(c.country, c.after.mode) for c in changes if isinstance(c, FlagChange)] == \
        [("ES", "legacy")]
    assert not (data_dir / "audit.db").exists()
