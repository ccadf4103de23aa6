"""Standalone verifier of an audit export: `python -m audit.verify_export DIR [--public-key PEM]`.

Needs only the standard library, `cryptography` and the signing public key (obtained out of
band; the copy inside the export is used, with a warning, when none is given). Proves:
1. the manifest is signed by that key and every file matches its SHA-256 in it;
2. the digest in it is signed by that key, and every entry header in chains.jsonl links,
   hash by hash, up to its chain's signed head (so no header was altered, added or dropped);
3. every chain of the digest is there, starting at seq 1 or before the period, and the
   digest was issued after the period ended (so no entry of the period lies outside);
4. the records are exactly the entries of that country and period (and those of no country:
   model alias changes, erasures), each body matching the body hash its header commits to
   (so none was left out or altered).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = "0" * 64


class ExportInvalid(Exception):
    pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _link_hash(s: dict[str, Any], index: bool = True) -> str:
    # Same bytes as audit.record.entry_header (RFC 8785 form of a dict of strings and an int).
    fields = {"at": s["appended_at"], "body": s["body_sha256"], "chain": s["chain_id"],
              "country": s["country"], "prev": s["prev_hash"], "seq": s["seq"]}
    if index:
        fields.update({name: s[key] for name, key in (("app", "application_id"),
                                                      ("dec", "decision_id")) if key in s})
    header = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _sha256(header.encode())


def _check_sig(key: Ed25519PublicKey, sig_hex: str, data: bytes, what: str) -> None:
    try:
        key.verify(bytes.fromhex(sig_hex), data)
    except (InvalidSignature, ValueError):
        raise ExportInvalid(f"{what}: signature does not verify with this public key") from None


def _digest_payload(d: dict[str, Any]) -> bytes:
    return json.dumps({"heads": d["heads"], "issued_at": d["issued_at"], "key_id": d["key_id"]},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line]


def verify_export(out: Path, key: Ed25519PublicKey) -> dict[str, Any]:
    """Return a summary, or raise ExportInvalid naming the first problem."""
    raw = (out / "manifest.json").read_bytes()
    _check_sig(key, (out / "manifest.sig").read_text().strip(), raw, "manifest")
    m = json.loads(raw)
    for name, meta in m["files"].items():
        if _sha256((out / name).read_bytes()) != meta["sha256"]:
            raise ExportInvalid(f"{name}: SHA-256 differs from the manifest")
    d = m["digest"]
    _check_sig(key, d["signature"], _digest_payload(d), "digest")
    if d["issued_at"] < m["to"]:
        raise ExportInvalid("digest issued before the period ended: the period is not closed")

    stubs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in _jsonl(out / "chains.jsonl"):
        stubs[s["chain_id"]].append(s)
    heads = {h["chain_id"]: h for h in d["heads"]}
    if set(stubs) != set(heads):
        raise ExportInvalid(f"chains in the export {sorted(set(stubs) ^ set(heads))} "
                            "differ from the signed digest's")
    lo, hi, country = m["from"], m["to"], m["country"]
    expected: dict[tuple[str, int], str] = {}
    for chain, seg in stubs.items():
        first = seg[0]
        if not (first["seq"] == 1 and first["prev_hash"] == GENESIS) and first["appended_at"] >= lo:
            raise ExportInvalid(f"{chain}#{first['seq']}: segment starts inside the period")
        prev = first
        for s in seg:
            where = f"{chain}#{s['seq']}"
            # Entries written before index keys were hashed: the header without them.
            if s["hash"] not in (_link_hash(s), _link_hash(s, index=False)):
                raise ExportInvalid(f"{where}: header does not match its hash")
            if s is not first:
                if s["seq"] != prev["seq"] + 1 or s["prev_hash"] != prev["hash"]:
                    raise ExportInvalid(f"{where}: chain link broken (entry missing or moved)")
                if s["appended_at"] < prev["appended_at"]:
                    raise ExportInvalid(f"{where}: append time goes backwards")
            if s["country"] in (country, "") and lo <= s["appended_at"] < hi:
                expected[(chain, s["seq"])] = s["body_sha256"]
            prev = s
        head = heads[chain]
        if prev["seq"] != head["seq"] or prev["hash"] != head["hash"]:
            raise ExportInvalid(f"{chain}#{prev['seq']}: segment does not end at the signed head "
                                f"(seq {head['seq']})")

    seen: set[tuple[str, int]] = set()
    for r in _jsonl(out / "records.jsonl"):
        k = (r["chain_id"], r["seq"])
        where = f"{k[0]}#{k[1]}"
        if k not in expected:
            raise ExportInvalid(f"{where}: record is not of {country} in the period")
        if k in seen:
            raise ExportInvalid(f"{where}: record appears twice")
        if _sha256(r["body"].encode()) != expected[k]:
            raise ExportInvalid(f"{where}: record body does not match its hash")
        if (json.loads(r["body"]).get("country") or "") not in (country, ""):
            raise ExportInvalid(f"{where}: record body is not of {country}")
        seen.add(k)
    missing = sorted(set(expected) - seen)
    if missing:
        raise ExportInvalid(f"{missing[0][0]}#{missing[0][1]}: record of {country} in the period "
                            f"left out ({len(missing)} missing)")
    if len(seen) != m["record_count"]:
        raise ExportInvalid("record count differs from the manifest")
    return {"records": len(seen), "chains": len(stubs), "country": country, "from": lo, "to": hi}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m audit.verify_export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--public-key", type=Path, help="the signing key's public half (PEM)")
    args = ap.parse_args(argv)
    key_path = args.public_key
    if key_path is None:
        key_path = args.dir / "public-key.pem"
        print("warning: using the public key shipped inside the export; pass --public-key "
              "with one obtained out of band to rule out a re-signed export", file=sys.stderr)
    key = serialization.load_pem_public_key(key_path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        print("FAILED: not an Ed25519 public key", file=sys.stderr)
        return 1
    try:
        s = verify_export(args.dir, key)
    except (ExportInvalid, FileNotFoundError, KeyError, ValueError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"OK: {s['records']} records of {s['country']} from {s['from']} to {s['to']}, "
          f"complete across {s['chains']} chains")
    return 0


if __name__ == "__main__":
    sys.exit(main())
