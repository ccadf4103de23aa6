"""Record format: canonical JSON (RFC 8785) and the hash chain that links records.

Each writer keeps its own chain. An entry's hash covers its chain id, sequence number, the
previous entry's hash and the canonical record, so modifying, deleting, inserting or
reordering entries breaks the chain at the first affected entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import rfc8785

GENESIS = "0" * 64


def canonical(obj: Any) -> bytes:
    return rfc8785.dumps(obj)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_hash(chain_id: str, seq: int, prev_hash: str, body: bytes) -> str:
    header = canonical({"chain": chain_id, "seq": seq, "prev": prev_hash})
    return hashlib.sha256(header + b"\n" + body).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One stored audit entry: the canonical record and its place in its chain."""

    chain_id: str
    seq: int
    prev_hash: str
    hash: str
    body: bytes  # canonical JSON of the record

    def chain_position(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "seq": self.seq, "prev_hash": self.prev_hash,
                "hash": self.hash}
