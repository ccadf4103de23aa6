"""Export one country's decisions of a period, provably unaltered and complete.

The export holds (see docs/decisions/0033-export-completeness.md):
- records.jsonl / records.parquet: the full records of that country and period;
- chains.jsonl: for every chain of a freshly signed digest, the header of each entry from
  the last one before the period up to the signed head (seq, links, append time, country,
  body hash; no body), so a verifier can recompute every hash up to the signed head and see
  every entry of the period, including those it does not get the body of;
- manifest.json (counts, sequence ranges, SHA-256 per file, the signed digest), signed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from audit.digest import DigestSigner, DigestStore, public_key_pem
from audit.record import Entry, sha256_hex
from audit.records import DecisionRecord, parse_record
from audit.store import AuditStore

STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
FORMAT = "credit-audit-export/1"


def parse_bound(text: str, *, end: bool = False) -> datetime:
    """A date (a whole day; as an end bound, the end of that day) or an ISO datetime."""
    if len(text) == 10:
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return day + timedelta(days=1) if end else day
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _stub(e: Entry) -> dict[str, Any]:
    return {"chain_id": e.chain_id, "seq": e.seq, "prev_hash": e.prev_hash, "hash": e.hash,
            "appended_at": e.appended_at, "country": e.country, "body_sha256": sha256_hex(e.body)}


def _segment(entries: Iterator[Entry], start: str) -> Iterator[Entry]:
    """From the last entry before `start` (or the chain's first) to the end."""
    before: Entry | None = None
    for e in entries:
        if e.appended_at < start:
            before = e
            continue
        if before is not None:
            yield before
            before = None
        yield e
    if before is not None:  # the whole chain is older than the period: its head proves it
        yield before


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _columns(body: str) -> dict[str, Any]:
    """The typed record's searchable fields (decision fields are empty for other records).
    A record this version cannot parse is still exported whole, with empty columns: the
    export carries the log, judging it is verify's job."""
    try:
        rec = parse_record(body)
    except ValidationError:
        return dict.fromkeys(("decision_id", "application_id", "decided_at", "outcome",
                              "probability_of_default", "model_version"),
                             None) | {"type": None, "country": None}
    d = rec if isinstance(rec, DecisionRecord) else None
    return {"type": rec.type, "country": getattr(rec, "country", None),
            "decision_id": d and d.decision_id, "application_id": d and d.application_id,
            "decided_at": d and d.decided_at, "outcome": d and d.response.outcome,
            "probability_of_default": d and d.response.probability_of_default,
            "model_version": d and d.model.version}


def _parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = [_columns(r["body"]) for r in rows]
    table = pa.table({
        "chain_id": [r["chain_id"] for r in rows], "seq": [r["seq"] for r in rows],
        "hash": [r["hash"] for r in rows], "appended_at": [r["appended_at"] for r in rows],
        **{name: [c[name] for c in cols] for name in
           ("type", "decision_id", "application_id", "country", "decided_at", "outcome",
            "probability_of_default", "model_version")},
        "body": [r["body"] for r in rows],
    })
    pq.write_table(table, path)


def export(store: AuditStore, signer: DigestSigner, digests: DigestStore, country: str,
           start: datetime, end: datetime, out: Path, settle_s: float = 5.0) -> dict[str, Any]:
    """Write the export to `out`; returns the manifest. An open period (ending in the future)
    is cut `settle_s` before the digest, so that no append still committing can be missed."""
    digest = signer.sign(store.heads())
    digests.put(digest)
    issued = datetime.strptime(digest.issued_at, STAMP).replace(tzinfo=UTC)
    end = min(end, issued - timedelta(seconds=settle_s))
    lo, hi = start.strftime(STAMP), end.strftime(STAMP)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    chains: list[dict[str, Any]] = []
    with (out / "chains.jsonl").open("wb") as cf:
        for head in digest.heads:
            seg = {"chain_id": head.chain_id, "first_seq": None, "last_seq": None,
                   "records": 0, "record_seqs": []}
            for e in _segment(store.entries(head.chain_id, 1, head.seq), lo):
                cf.write(orjson.dumps(_stub(e)) + b"\n")
                seg["first_seq"] = seg["first_seq"] or e.seq
                seg["last_seq"] = e.seq
                if e.country == country and lo <= e.appended_at < hi:
                    rows.append({"chain_id": e.chain_id, "seq": e.seq, "hash": e.hash,
                                 "appended_at": e.appended_at, "body": e.body.decode()})
                    seg["records"] += 1
                    seg["record_seqs"].append(e.seq)
            chains.append(seg)
    with (out / "records.jsonl").open("wb") as rf:
        for r in rows:
            rf.write(orjson.dumps(r) + b"\n")
    _parquet(rows, out / "records.parquet")
    (out / "public-key.pem").write_bytes(public_key_pem(signer.public_key))
    manifest = {
        "format": FORMAT, "country": country, "from": lo, "to": hi,
        "created_at": digest.issued_at, "record_count": len(rows), "chains": chains,
        "files": {name: {"sha256": _sha256_file(out / name),
                         "lines": (sum(1 for _ in (out / name).open("rb"))
                                   if name.endswith(".jsonl") else None)}
                  for name in ("records.jsonl", "records.parquet", "chains.jsonl")},
        "digest": digest.to_json(),
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    (out / "manifest.json").write_bytes(body)
    (out / "manifest.sig").write_text(signer.sign_bytes(body).hex())
    return manifest
