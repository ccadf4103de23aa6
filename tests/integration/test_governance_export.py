"""Every governance event of a period (promotion, forced promotion, rollback, flag change,
erasure) is a record in the chain, in the country's export, and the export verifies."""

import os
import subprocess
import sys

import orjson
import pytest

from app.builder import Builder
from app.settings import Settings
from audit.governance_records import Erasure, FlagChange, ModelAliasChange
from audit.records import parse_record
from models.errors import PromotionRefused
from tests.conftest import fresh_data_dir, register_again


def a_second_version(registry) -> str:
    """The champion's artifacts registered again as a version whose gates failed."""
    champion = registry.client.get_model_version_by_alias(registry.model_name, "champion")
    return register_again(registry, champion, gates="failed")


def test_governance_events_are_exported_and_verifiable(trained, tmp_path):
    data_dir = fresh_data_dir(trained, tmp_path)
    env = {**os.environ, "CREDIT_DATA_DIR": str(data_dir)}
    b = Builder(Settings(data_dir=data_dir))
    v2 = a_second_version(b.registry)
    with pytest.raises(PromotionRefused):
        b.model_admin.promote(v2, who="risk:ana", reason="try")
    b.model_admin.promote(v2, who="risk:ana", reason="incident 7 hotfix", force=True)
    b.model_admin.rollback(who="risk:bo", reason="hotfix regressed")
    b.flag_admin.set("ES", "legacy", None, reason="kill switch drill", actor="oncall:cy")
    b.eraser.request("C-404", hold_days=0, actor="dpo:di", reason="customer asked")
    b.close()

    out = tmp_path / "export"
    e = subprocess.run([sys.executable, "-m", "app.cli", "audit", "export", "--country", "ES",
                        "--from", "2020-01-01", "--to", "2100-01-01", "--out", str(out),
                        "--settle-seconds", "0"], env=env, capture_output=True, text=True)
    assert e.returncode == 0, e.stderr
    x = subprocess.run([sys.executable, "-m", "audit.verify_export", str(out), "--public-key",
                        str(data_dir / "keys" / "audit-digest.pub.pem")],
                       capture_output=True, text=True)
    assert x.returncode == 0, x.stderr
    recs = [parse_record(orjson.loads(line)["body"])
            for line in (out / "records.jsonl").read_bytes().splitlines()]
    aliases = [(r.action, r.version, r.forced, r.gates) for r in recs
               if isinstance(r, ModelAliasChange)]
    v1_gates = "passed" if Builder(Settings(data_dir=data_dir)).registry.gates_passed("1") \
        else "failed"
    assert aliases == [("promote", v2, True, "failed"), ("rollback", "1", False, v1_gates)]
    assert [(r.country, r.after.mode) for r in recs if isinstance(r, FlagChange)] == \
        [("ES", "legacy")]
    assert [r.status for r in recs if isinstance(r, Erasure)] == ["started", "done"]
    # A PT export holds the country-less events too, and not the ES flag change.
    pt = tmp_path / "pt"
    subprocess.run([sys.executable, "-m", "app.cli", "audit", "export", "--country", "PT",
                    "--from", "2020-01-01", "--to", "2100-01-01", "--out", str(pt),
                    "--settle-seconds", "0"], env=env, check=True, capture_output=True)
    types = [parse_record(orjson.loads(line)["body"]).type
             for line in (pt / "records.jsonl").read_bytes().splitlines()]
    assert "flag_change" not in types and types.count("model_alias_change") == 2
