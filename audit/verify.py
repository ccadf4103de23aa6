"""Verify the hash chains: every entry's hash, its link to the previous one, gap-free sequence,
and (given the latest signed digest) that no chain ends before its signed head."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from audit.digest import Digest
from audit.record import GENESIS, Entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    chains: int
    first_bad: str | None = None  # "chain_id#seq"
    problem: str | None = None


def verify_entries(entries: Iterable[Entry], digest: Digest | None = None, *,
                   partial: bool = False) -> VerifyResult:
    """Entries must come chain by chain in sequence order (as AuditStore.entries yields them).

    `partial`: the entries are a seq range, so each chain may start after seq 1; its first
    entry's prev_hash is taken as the anchor (the range is checked, not what precedes it).
    """
    checked = chains = 0
    chain: str | None = None
    seq, head, at = 0, GENESIS, ""
    reached: dict[str, tuple[int, str]] = {}   # chain -> (last seq, hash at the signed seq)
    signed = {h.chain_id: h for h in digest.heads} if digest else {}
    for e in entries:
        if e.chain_id != chain:
            chain, chains = e.chain_id, chains + 1
            seq, head = (e.seq - 1, e.prev_hash) if partial else (0, GENESIS)
            at = ""
        where = f"{e.chain_id}#{e.seq}"
        if e.seq != seq + 1:
            return VerifyResult(False, checked, chains, where,
                                f"sequence jumps from {seq} to {e.seq} (entry missing or moved)")
        if e.prev_hash != head:
            return VerifyResult(False, checked, chains, where,
                                "previous-hash link broken (entry removed, inserted or reordered)")
        if e.computed_hash() != e.hash:
            return VerifyResult(False, checked, chains, where, "content does not match its hash")
        if e.appended_at < at:
            return VerifyResult(False, checked, chains, where, "append time goes backwards")
        sh = signed.get(e.chain_id)
        if sh is not None and sh.seq == e.seq and sh.hash != e.hash:
            return VerifyResult(False, checked, chains, where,
                                "entry differs from the signed digest's head")
        seq, head, at = e.seq, e.hash, e.appended_at
        reached[e.chain_id] = (e.seq, e.hash)
        checked += 1
    if digest is not None and not partial:
        for h in digest.heads:
            last = reached.get(h.chain_id, (0, GENESIS))[0]
            if last < h.seq:
                return VerifyResult(False, checked, chains, f"{h.chain_id}#{last + 1}",
                                    f"chain ends at seq {last} but the signed digest of "
                                    f"{digest.issued_at} has it at seq {h.seq} (truncated)")
    return VerifyResult(True, checked, chains)
