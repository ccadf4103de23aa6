"""Export + standalone verifier: an intact export passes; altering, dropping or adding
anything (even with a re-signed manifest) fails, naming what is wrong."""

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.digest import DigestSigner, DigestWriter, SQLiteDigestStore
from audit.export import export
from audit.sqlite import SQLiteAuditStore
from audit.verify_export import ExportInvalid, verify_export


@pytest.fixture
def exported(tmp_path):
    """Two writers, ES and PT decisions interleaved, exported for ES."""
    a = SQLiteAuditStore(tmp_path / "audit.db")
    b = SQLiteAuditStore(tmp_path / "audit.db")
    for i in range(12):
        (a if i % 3 else b).append({"country": "ES" if i % 2 else "PT", "i": i,
                                    "decision_id": f"D{i}"}, decision_id=f"D{i}")
    signer = DigestSigner(Ed25519PrivateKey.generate())
    now = datetime.now(UTC)
    out = tmp_path / "export"
    writer = DigestWriter(a.heads, signer, SQLiteDigestStore(tmp_path / "d.db"), 0)
    m = export(a, writer, "ES", now - timedelta(days=1), now + timedelta(days=1), out,
               settle_s=0)
    return out, signer, m


def resign(out, signer, manifest):
    """Recompute file hashes and re-sign the manifest: what a forger holding the key could
    not do without also re-signing the digest; here the digest stays as it was."""
    for name in manifest["files"]:
        import hashlib
        manifest["files"][name]["sha256"] = hashlib.sha256((out / name).read_bytes()).hexdigest()
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    (out / "manifest.json").write_bytes(body)
    (out / "manifest.sig").write_text(signer.sign_bytes(body).hex())


def test_intact_export_verifies(exported):
    out, signer, m = exported
    assert m["record_count"] == 6 and len(m["chains"]) == 2
    summary = verify_export(out, signer.public_key)
    assert summary["records"] == 6 and summary["chains"] == 2


def test_standalone_cli(exported):
    """`python -m audit.verify_export DIR --public-key PEM` runs without the app's deps."""
    out, _, _ = exported
    ok = subprocess.run([sys.executable, "-m", "audit.verify_export", str(out),
                         "--public-key", str(out / "public-key.pem")],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 6 records of ES")
    (out / "records.jsonl").write_text("")
    bad = subprocess.run([sys.executable, "-m", "audit.verify_export", str(out)],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "FAILED" in bad.stderr


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def write_lines(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def drop_record(out):
    write_lines(out / "records.jsonl", lines(out / "records.jsonl")[1:])


def alter_record(out):
    rows = lines(out / "records.jsonl")
    rows[0]["body"] = rows[0]["body"].replace('"i":', '"i":1')
    write_lines(out / "records.jsonl", rows)


def add_foreign_record(out):
    rows = lines(out / "records.jsonl")
    write_lines(out / "records.jsonl", rows + [{**rows[0], "seq": 999}])


def drop_header_and_record(out):
    """Hide an ES decision from both files: the chain no longer links."""
    rec = next(r for r in lines(out / "records.jsonl") if r["seq"] > 1)
    write_lines(out / "records.jsonl", [r for r in lines(out / "records.jsonl") if r != rec])
    write_lines(out / "chains.jsonl", [s for s in lines(out / "chains.jsonl")
                                       if (s["chain_id"], s["seq"]) != (rec["chain_id"],
                                                                        rec["seq"])])


def relabel_country(out):
    """Claim an ES entry is PT to leave it out: its header no longer matches its hash."""
    rec = lines(out / "records.jsonl")[0]
    stubs = lines(out / "chains.jsonl")
    for s in stubs:
        if (s["chain_id"], s["seq"]) == (rec["chain_id"], rec["seq"]):
            s["country"] = "PT"
    write_lines(out / "chains.jsonl", stubs)
    drop_record(out)


def drop_chain(out):
    stubs = lines(out / "chains.jsonl")
    write_lines(out / "chains.jsonl", [s for s in stubs if s["chain_id"] != stubs[0]["chain_id"]])


@pytest.mark.parametrize("tamper,says", [
    (drop_record, "left out"), (alter_record, "does not match"),
    (add_foreign_record, "not of ES"), (drop_header_and_record, "link broken"),
    (relabel_country, "header does not match"), (drop_chain, "differ from the signed digest"),
])
def test_tampered_export_fails_even_resigned(exported, tamper, says):
    out, signer, m = exported
    tamper(out)
    with pytest.raises(ExportInvalid, match="SHA-256"):
        verify_export(out, signer.public_key)
    resign(out, signer, m)
    with pytest.raises(ExportInvalid, match=says):
        verify_export(out, signer.public_key)


def test_wrong_public_key_fails(exported, tmp_path):
    out, _, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with pytest.raises(ExportInvalid, match="signature"):
        verify_export(copy, DigestSigner(Ed25519PrivateKey.generate()).public_key)


def test_export_shows_every_override_by_type_decision_and_outcome(tmp_path):
    """A human action is exported with its country's records; the Parquet columns name its
    type, the decision it changes and the outcome it gives."""
    import pyarrow.parquet as pq

    from audit.governance_records import DecisionOverride
    from audit.records import to_json
    from tests import records

    log = SQLiteAuditStore(tmp_path / "audit.db")
    entry = log.append(records.decision("D1", outcome="approve"), decision_id="D1")
    log.append(to_json(DecisionOverride(
        action_id="a1", review_id="ovr-1", decision_id="D1", decision_hash=entry.hash,
        country="ES", at="2026-11-20T11:00:00+00:00", actor="k1", automated_outcome="approve",
        outcome="decline", reason_code="HIGH_DEBT_BURDEN", reason_codes_version="v",
        four_eyes=False)))
    now = datetime.now(UTC)
    writer = DigestWriter(log.heads, DigestSigner(Ed25519PrivateKey.generate()),
                          SQLiteDigestStore(tmp_path / "d.db"), 0)
    export(log, writer, "ES", now - timedelta(days=1), now + timedelta(days=1),
           tmp_path / "out", settle_s=0)
    rows = pq.read_table(tmp_path / "out" / "records.parquet").to_pylist()
    [override] = [r for r in rows if r["type"] == "decision_override"]
    assert (override["decision_id"], override["outcome"]) == ("D1", "decline")
