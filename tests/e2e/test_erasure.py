"""Erasure end to end: a real API, the real `credit audit erase` and export commands. After
the customer's erasure nothing personal of theirs can be read or linked from the log, the
feature store, the key store or an export; verify passes; the erasure is on record."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from app.builder import Builder
from app.settings import Settings
from app.simulators.server import application_for_row
from audit.governance_records import Erasure
from audit.records import DecisionRecord, parse_record
from tests import servers
from tests.conftest import api_env, auth, fresh_data_dir

ERASED, KEPT = 17, 18  # credit_data rows of the two customers


def credit(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "CREDIT_DATA_DIR": str(data_dir)})


@pytest.fixture(scope="module")
def erased(trained, simulators_url, tmp_path_factory):
    data_dir = fresh_data_dir(trained, tmp_path_factory.mktemp("erasure"))
    decided = {}
    with servers.api(api_env(data_dir, simulators_url), log=data_dir / "api.log") as base, \
            httpx.Client(base_url=base, headers=auth(data_dir), timeout=30) as c:
        for row in (ERASED, KEPT):
            for i in range(2):
                body = application_for_row(row, application_id=f"ER-{row}-{i}")
                r = c.post("/v1/decisions", json=body)
                assert r.status_code == 200, r.text
                decided.setdefault(row, []).append((body, r.json()["decision_id"]))
        before = c.get(f"/v1/decisions/{decided[ERASED][0][1]}").json()
        result = credit(data_dir, "audit", "erase", decided[ERASED][0][0]["applicant"]
                        ["customer_id"], "--reason", "customer asked (test)")
        after = {d: c.get(f"/v1/decisions/{d}").json() for row in decided for _, d in decided[row]}
    return data_dir, decided, before, result, after


def secrets_of(data_dir: Path, body: dict) -> list[bytes]:
    """What would identify the customer: their ids and the pseudonyms the stores key by."""
    pseudo = Builder(Settings(data_dir=data_dir)).pseudonymizer
    a = body["applicant"]
    return [s.encode() for s in (a["customer_id"], a["national_id"],
                                 pseudo.customer_ref(a["customer_id"]),
                                 pseudo.national_id(a["national_id"]))]


def test_the_command_says_it_erased(erased):
    _, _, before, result, _ = erased
    assert result.returncode == 0, result.stderr
    assert "ERASED data key" in result.stderr and before["personal_data"] is not None


def test_no_store_holds_anything_that_identifies_the_customer(erased):
    """Every file of the data dir (log, WAL, feature store, key store) is free of the erased
    customer's ids and pseudonyms; the other customer's pseudonyms are still there."""
    data_dir, decided, *_ = erased
    blob = b"".join(p.read_bytes() for p in data_dir.glob("*.db*"))
    for s in secrets_of(data_dir, decided[ERASED][0][0]):
        assert s not in blob, s
    kept = secrets_of(data_dir, decided[KEPT][0][0])
    assert kept[2] in blob and kept[3] in blob  # key store and feature store, not erased


def test_the_records_stay_but_read_as_erased(erased):
    data_dir, decided, _, _, after = erased
    for _, did in decided[ERASED]:
        assert after[did]["personal_data"] is None and after[did]["schema_version"] == 2
        assert after[did]["response"]["decision_id"] == did
    for _, did in decided[KEPT]:
        assert after[did]["personal_data"]["inputs"]["features"]


def test_verify_passes_and_the_erasure_is_on_record(erased):
    data_dir, decided, _, _, after = erased
    v = credit(data_dir, "audit", "verify")
    assert v.returncode == 0, v.stderr
    b = Builder(Settings(data_dir=data_dir))
    recs = [parse_record(e.body) for e in b.audit.entries()]
    erasures = [r for r in recs if isinstance(r, Erasure)]
    key_ref = after[decided[ERASED][0][1]]["application"]["key_ref"]
    assert [(e.status, e.key_ref) for e in erasures] == [("started", key_ref), ("done", key_ref)]
    assert erasures[-1].removed["customer_keys"] == 1 and erasures[-1].removed["velocity"] > 0
    assert erasures[-1].removed["bureau_cache"] == 1


def test_an_export_holds_nothing_readable_of_them(erased, tmp_path):
    """The country export carries the erased customer's records sealed, and the erasure."""
    data_dir, decided, *_ = erased
    out = tmp_path / "export"
    e = credit(data_dir, "audit", "export", "--country", "ES", "--from", "2020-01-01", "--to",
               "2100-01-01", "--out", str(out), "--settle-seconds", "0")
    assert e.returncode == 0, e.stderr
    blob = b"".join(p.read_bytes() for p in out.iterdir())
    for s in secrets_of(data_dir, decided[ERASED][0][0]):
        assert s not in blob
    lines = [orjson.loads(x) for x in (out / "records.jsonl").read_bytes().splitlines()]
    recs = [parse_record(x["body"]) for x in lines]
    reader = Builder(Settings(data_dir=data_dir)).record_reader
    mine = [r for r in recs if isinstance(r, DecisionRecord)
            and r.decision_id in {d for _, d in decided[ERASED]}]
    assert len(mine) == 2 and all(reader.personal(r) is None for r in mine)
    assert any(isinstance(r, Erasure) for r in recs)
