"""Verify the hash chains: every entry's hash, its link to the previous one, gap-free sequence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from audit.record import GENESIS, Entry, entry_hash


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    chains: int
    first_bad: str | None = None  # "chain_id#seq"
    problem: str | None = None


def verify_entries(entries: Iterable[Entry]) -> VerifyResult:
    """Entries must come chain by chain in sequence order (as AuditStore.entries yields them)."""
    checked = chains = 0
    chain, seq, head = None, 0, GENESIS
    for e in entries:
        if e.chain_id != chain:
            chain, seq, head, chains = e.chain_id, 0, GENESIS, chains + 1
        where = f"{e.chain_id}#{e.seq}"
        if e.seq != seq + 1:
            return VerifyResult(False, checked, chains, where,
                                f"sequence jumps from {seq} to {e.seq} (entry missing or moved)")
        if e.prev_hash != head:
            return VerifyResult(False, checked, chains, where,
                                "previous-hash link broken (entry removed, inserted or reordered)")
        if entry_hash(e.chain_id, e.seq, e.prev_hash, e.body) != e.hash:
            return VerifyResult(False, checked, chains, where, "content does not match its hash")
        seq, head = e.seq, e.hash
        checked += 1
    return VerifyResult(True, checked, chains)
