"""Record format: canonical JSON (RFC 8785) and the hash chain that links records.

Each writer keeps its own chain. An entry's hash covers a small header (chain id, sequence
number, previous entry's hash, the time the store appended it, the record's country) and the
SHA-256 of the canonical record. So modifying, deleting, inserting or reordering entries
breaks the chain at the first affected entry, and an export can prove an entry is *not* of
a country or period from its header and body hash alone, without showing its body.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

GENESIS = "0" * 64


def canonical(obj: Any) -> bytes:
    return rfc8785.dumps(obj)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now_stamp() -> str:
    """UTC with microseconds, fixed width, so timestamps compare as strings."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_header(chain_id: str, seq: int, prev_hash: str, appended_at: str, country: str,
                 body_sha256: str) -> bytes:
    """canonical({"at", "body", "chain", "country", "prev", "seq"}), built directly: this
    runs once per entry in verify, where the generic RFC 8785 encoder would be the slow part.
    (json.dumps of a str matches RFC 8785's string form; a unit test checks they agree.)"""
    return (f'{{"at":{json.dumps(appended_at, ensure_ascii=False)},"body":"{body_sha256}",'
            f'"chain":{json.dumps(chain_id, ensure_ascii=False)},'
            f'"country":{json.dumps(country, ensure_ascii=False)},'
            f'"prev":{json.dumps(prev_hash)},"seq":{int(seq)}}}').encode()


def link_hash(chain_id: str, seq: int, prev_hash: str, appended_at: str, country: str,
              body_sha256: str) -> str:
    return sha256_hex(entry_header(chain_id, seq, prev_hash, appended_at, country, body_sha256))


def entry_hash(chain_id: str, seq: int, prev_hash: str, appended_at: str, country: str,
               body: bytes) -> str:
    return link_hash(chain_id, seq, prev_hash, appended_at, country, sha256_hex(body))


def country_of(record: dict[str, Any]) -> str:
    return str(record.get("country") or "")


@dataclass(frozen=True)
class Entry:
    """One stored audit entry: the canonical record and its place in its chain."""

    chain_id: str
    seq: int
    prev_hash: str
    hash: str
    body: bytes  # canonical JSON of the record
    appended_at: str = ""
    country: str = ""

    def computed_hash(self) -> str:
        return entry_hash(self.chain_id, self.seq, self.prev_hash, self.appended_at,
                          self.country, self.body)

    def chain_position(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "seq": self.seq, "prev_hash": self.prev_hash,
                "hash": self.hash, "appended_at": self.appended_at}
