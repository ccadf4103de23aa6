"""Verify the hash chains: every entry's hash, its link to the previous one, gap-free sequence,
and (given the latest signed digest) that no chain ends before its signed head.

`verify_entries` walks entries in one thread. `verify_store` checks a whole store in `jobs`
workers: each chain is cut into seq ranges, each range is read starting one entry early
(the entry where the previous range ends) so every link, including those across range
boundaries, is checked inside some worker; the first failing range, in chain and seq order,
names the first bad record, as a single walk would.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import multiprocessing
import os
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import orjson

from audit.digest import Digest, Head
from audit.record import GENESIS, Entry, entry_header

# How a worker reads a range: entries(chain_id, from_seq, to_seq), None meaning unbounded;
# a generator, closed (its connection with it) when a range stops early.
Reader = Callable[[str | None, int | None, int | None], Generator[Entry, None, None]]
MIN_RANGE = 20_000  # below this a range costs more to hand out than to check


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    chains: int
    first_bad: str | None = None  # "chain_id#seq"
    problem: str | None = None


def _index_problem(e: Entry, body_sha256: str) -> str | None:
    """Whether the entry's stored index keys are what its hash or its record says (None)."""
    chain_id, e_seq, prev, e_hash, body, at, country, app, dec = e
    header = entry_header(chain_id, e_seq, prev, at, country, body_sha256, app, dec)
    if hashlib.sha256(header).hexdigest() == e_hash:
        # Null keys hash as a header without them, as entries written before index keys were
        # hashed do: a decision stored with its keys removed must still be caught.
        if app is None and dec is None and b'"type":"decision"' in body:
            return _legacy_index(body, app, dec)
        return None
    if app is None and dec is None:
        return "content does not match its hash"
    legacy = entry_header(chain_id, e_seq, prev, at, country, body_sha256)
    if hashlib.sha256(legacy).hexdigest() != e_hash:
        return "content does not match its hash"
    return _legacy_index(body, app, dec)


def _legacy_index(body: bytes, app: str | None, dec: str | None) -> str | None:
    """An entry whose hash predates hashed index keys: its keys must be its record's."""
    rec = orjson.loads(body)
    want = ((rec.get("application_id"), rec.get("decision_id"))
            if rec.get("type") == "decision" else (None, None))
    if (app, dec) != want:
        return (f"index keys (application_id={app!r}, decision_id={dec!r}) differ from the "
                f"record's ({want[0]!r}, {want[1]!r})")
    return None


def _walk(entries: Iterable[Entry], signed: dict[str, Head], partial: bool,
          reached: dict[str, int]) -> VerifyResult:
    """Check entries chain by chain; record each chain's last seq in `reached`."""
    sha256 = hashlib.sha256
    checked = chains = 0
    chain: str | None = None
    seq, head, last_at, mark = 0, GENESIS, "", None
    for e in entries:
        chain_id, e_seq, prev, e_hash, body, at, country, app, dec = e
        if not isinstance(body, bytes):  # rewritten in place as TEXT (sqlite replace())
            return VerifyResult(False, checked, chains + (chain_id != chain),
                                f"{chain_id}#{e_seq}", "body is stored as text, not as the "
                                "bytes that were written (rewritten in place)")
        if chain_id != chain:
            chain, chains, last_at = chain_id, chains + 1, ""
            seq, head = (e_seq - 1, prev) if partial else (0, GENESIS)
            mark = signed.get(chain_id)
        if e_seq != seq + 1:
            return VerifyResult(False, checked, chains, f"{chain_id}#{e_seq}", _jump(seq, e_seq))
        if prev != head:
            return VerifyResult(False, checked, chains, f"{chain_id}#{e_seq}",
                                "previous-hash link broken (entry removed, inserted or reordered)")
        body_sha256 = sha256(body).hexdigest()
        header = entry_header(chain_id, e_seq, prev, at, country, body_sha256, app, dec)
        if sha256(header).hexdigest() != e_hash or (
                app is None and dec is None and b'"type":"decision"' in body):
            problem = _index_problem(e, body_sha256)
            if problem is not None:
                return VerifyResult(False, checked, chains, f"{chain_id}#{e_seq}", problem)
        if at < last_at:
            return VerifyResult(False, checked, chains, f"{chain_id}#{e_seq}",
                                "append time goes backwards")
        if mark is not None and mark.seq == e_seq and mark.hash != e_hash:
            return VerifyResult(False, checked, chains, f"{chain_id}#{e_seq}",
                                "entry differs from the signed digest's head")
        seq, head, last_at = e_seq, e_hash, at
        reached[chain_id] = e_seq
        checked += 1
    return VerifyResult(True, checked, chains)


def _jump(before: int, seq: int) -> str:
    return (f"sequence jumps from {before} to {seq} (entry missing or moved)" if before
            else f"chain starts at seq {seq}, not 1")


def _signed(digest: Digest | None) -> dict[str, Head]:
    return {h.chain_id: h for h in digest.heads} if digest else {}


def _truncated(digest: Digest, reached: dict[str, int], checked: int,
               chains: int) -> VerifyResult | None:
    for h in digest.heads:
        last = reached.get(h.chain_id, 0)
        if last < h.seq:
            return VerifyResult(False, checked, chains, f"{h.chain_id}#{last + 1}",
                                f"chain ends at seq {last} but the signed digest of "
                                f"{digest.issued_at} has it at seq {h.seq} (truncated)")
    return None


def verify_entries(entries: Iterable[Entry], digest: Digest | None = None, *,
                   partial: bool = False) -> VerifyResult:
    """Entries must come chain by chain in sequence order (as AuditStore.entries yields them).

    `partial`: the entries are a seq range, so each chain may start after seq 1; its first
    entry's prev_hash is taken as the anchor (the range is checked, not what precedes it).
    """
    reached: dict[str, int] = {}
    result = _walk(entries, _signed(digest), partial, reached)
    if result.ok and digest is not None and not partial:
        return _truncated(digest, reached, result.checked, result.chains) or result
    return result


@dataclass(frozen=True)
class _Range:
    chain_id: str
    lo: int              # first seq this range vouches for
    hi: int | None       # last seq; None: to the chain's end, whatever it is by then


@dataclass(frozen=True)
class _Span:
    """A range's verdict: its walk and the last seq it reached, or, when the entry it should
    start from is missing, the next seq stored (the parent names the jump: only it knows
    where the previous ranges ended)."""

    result: VerifyResult
    last: int = 0
    gap_to: int | None = None


def default_jobs() -> int:
    """The CPUs this process may run on (affinity and cpusets count, where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _plan(heads: Iterable[Head], jobs: int, min_range: int) -> list[_Range]:
    """Ranges of about equal size, several per job so a slow one does not leave cores idle."""
    heads = sorted(heads, key=lambda h: h.chain_id)
    total = sum(max(h.seq, 1) for h in heads)
    size = max(min_range, math.ceil(total / (jobs * 4)))
    ranges = []
    for h in heads:
        starts = range(1, max(h.seq, 1) + 1, size)
        ranges += [_Range(h.chain_id, lo, lo + size - 1) for lo in starts]
        ranges[-1] = _Range(h.chain_id, ranges[-1].lo, None)
    return ranges


def _verify_range(read: Reader, r: _Range, signed: dict[str, Head]) -> _Span:
    """The first range of a chain reads from the lowest stored seq, so a forged entry before
    seq 1 shows; later ones start at lo - 1, the previous range's last entry, whose own hash
    that range checked, and which anchors the first link here."""
    reached: dict[str, int] = {}
    if r.lo == 1:
        with closing(read(r.chain_id, None, r.hi)) as entries:
            result = _walk(entries, signed, False, reached)
        return _Span(result, reached.get(r.chain_id, 0))
    with closing(read(r.chain_id, r.lo - 1, r.hi)) as entries:
        first = next(entries, None)
        if first is None or first.seq != r.lo - 1:
            with closing(read(r.chain_id, r.lo - 1, None)) as after:
                following = next(after, None)
            return _Span(VerifyResult(True, 0, 0),
                         gap_to=following.seq if following is not None else None)
        result = _walk(itertools.chain([first], entries), signed, True, reached)
    overlap = 1 if result.checked else 0  # the previous range counted that entry
    return _Span(VerifyResult(result.ok, result.checked - overlap, 1, result.first_bad,
                              result.problem), reached.get(r.chain_id, 0))


def _stitch(ranges: list[_Range], spans: Iterable[_Span], digest: Digest | None
            ) -> VerifyResult:
    """Combine the ranges' verdicts in (chain, seq) order: the first failure is the one a
    single walk would have stopped at."""
    checked, reached, seen = 0, {}, set()
    for r, span in zip(ranges, spans, strict=True):
        seen.add(r.chain_id)
        if span.gap_to is not None:
            before = reached.get(r.chain_id, 0)
            return VerifyResult(False, checked, len(seen), f"{r.chain_id}#{span.gap_to}",
                                _jump(before, span.gap_to))
        checked += span.result.checked
        if not span.result.ok:
            return VerifyResult(False, checked, len(seen), span.result.first_bad,
                                span.result.problem)
        reached[r.chain_id] = max(reached.get(r.chain_id, 0), span.last)
    chains = sum(1 for last in reached.values() if last)
    result = VerifyResult(True, checked, chains)
    return (_truncated(digest, reached, checked, chains) or result) if digest else result


def verify_index(store: Any) -> VerifyResult | None:
    """For a store whose lookups go through index items of their own (DynamoDB): every item
    points at the entry whose hashed keys name it, and every keyed entry has its item."""
    expected: dict[str, tuple[str, int]] = {}
    for e in store.entries():
        for prefix, key in (("app#", e.application_id), ("dec#", e.decision_id)):
            if key is not None:
                expected[prefix + key] = (e.chain_id, e.seq)
    n = len(expected)
    for key, chain_id, seq in store.index_items():
        if expected.pop(key, None) != (chain_id, seq):
            return VerifyResult(False, n, 0, f"{chain_id}#{seq}",
                                f"index item {key!r} points at an entry not keyed by it")
    if expected:
        key, (chain_id, seq) = min(expected.items(), key=lambda kv: kv[1])
        return VerifyResult(False, n, 0, f"{chain_id}#{seq}", f"index item {key!r} missing")
    return None


def verify_store(store: Any, digest: Digest | None = None, *, jobs: int = 1,
                 min_range: int = MIN_RANGE) -> VerifyResult:
    """The whole log (`_verify_store`), then the store's own index items if it has any."""
    result = _verify_store(store, digest, jobs=jobs, min_range=min_range)
    if result.ok and hasattr(store, "index_items"):
        return verify_index(store) or result
    return result


def _verify_store(store: Any, digest: Digest | None, *, jobs: int,
                  min_range: int) -> VerifyResult:
    """The whole log, as `verify_entries(store.entries(), digest)` would check it, in `jobs`
    workers: processes where the store offers a picklable `reader` (SQLite), threads
    otherwise (the backend is remote, so reading is the slow part)."""
    heads = store.heads()
    if digest is not None:  # a chain the digest signed but the store lost must still be read
        known = {h.chain_id for h in heads}
        heads += [Head(h.chain_id, 0, GENESIS) for h in digest.heads if h.chain_id not in known]
    ranges = _plan(heads, jobs, min_range)
    jobs = min(jobs, len(ranges))
    if jobs <= 1:
        return verify_entries(store.entries(), digest)
    read = getattr(store, "reader", None)
    pool: Executor = (ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
                      if read is not None else ThreadPoolExecutor(jobs))
    try:
        futures = [pool.submit(_verify_range, read or store.entries, r, _signed(digest))
                   for r in ranges]
        return _stitch(ranges, (f.result() for f in futures), digest)
    finally:  # after a failure, ranges not started yet are not checked
        pool.shutdown(wait=False, cancel_futures=True)


def check_signed_heads(store: Any, digest: Digest, chain_id: str | None = None
                       ) -> VerifyResult | None:
    """Every head a digest signed is still in the log, with the hash signed (one lookup per
    chain). After a walk has checked the links, that proves each chain up to that head."""
    for h in digest.heads:
        if chain_id is not None and h.chain_id != chain_id:
            continue
        at = next(iter(store.entries(h.chain_id, h.seq, h.seq)), None)
        if at is None:
            return VerifyResult(False, 0, 0, f"{h.chain_id}#{h.seq}",
                                f"entry missing: the digest of {digest.issued_at} signed the "
                                f"chain up to seq {h.seq} (truncated)")
        if at.hash != h.hash:
            return VerifyResult(False, 0, 0, f"{h.chain_id}#{h.seq}",
                                f"entry differs from the signed head of {digest.issued_at}")
    return None


@dataclass(frozen=True)
class LogReport:
    """What `credit audit verify` (and the API and console) say about the log."""

    result: VerifyResult
    proven_until: str | None  # the newest valid digest the log was checked against
    anchored_until: str | None  # the newest anchored digest (None: no anchor, or none yet)
    unanchored: int  # entries appended after the newest anchored digest

    def summary(self) -> str:
        r = self.result
        if not r.ok:
            return f"FAILED at {r.first_bad}: {r.problem} ({r.checked} records good before it)"
        if self.proven_until is None:
            return (f"OK: {r.checked} records in {r.chains} chains; no signed digest yet, so "
                    "completeness is not proven")
        anchor = (f"; proven against the write-once anchor up to {self.anchored_until}"
                  f" ({self.unanchored} newer entries not yet anchored)"
                  if self.anchored_until else "; no anchored digest: completeness rests on "
                  "the digests kept beside the log")
        return (f"OK: {r.checked} records in {r.chains} chains, complete up to the signed "
                f"digest of {self.proven_until}{anchor}")


def verify_log(store: Any, digests: list[Digest], *, anchored: Digest | None = None,
               chain_id: str | None = None, jobs: int = 1) -> LogReport:
    """The whole log (or one whole chain, from seq 1 to its end) against every valid signed
    digest given: the log's own and the anchored one. The newest drives the walk (an entry
    at a signed seq must be the signed one; no chain may end before its signed head); every
    other is checked head by head, so deleting the newest digests beside the log changes
    nothing while the anchor holds one."""
    known = [d for d in (*digests, anchored) if d is not None]
    newest = max(known, key=lambda d: d.issued_at) if known else None
    if chain_id is None:
        result = verify_store(store, newest, jobs=jobs)
    else:
        result = verify_entries(store.entries(chain_id), _only(newest, chain_id))
    for d in known:
        if result.ok and d is not newest:
            result = check_signed_heads(store, d, chain_id) or result
    unanchored = 0
    if result.ok and anchored is not None:
        signed = {h.chain_id: h.seq for h in anchored.heads}
        unanchored = sum(max(0, h.seq - signed.get(h.chain_id, 0)) for h in store.heads()
                         if chain_id is None or h.chain_id == chain_id)
    return LogReport(result, newest.issued_at if newest else None,
                     anchored.issued_at if anchored else None, unanchored)


def _only(digest: Digest | None, chain_id: str) -> Digest | None:
    """The digest's head of one chain (a chain it did not sign: no head to check against)."""
    if digest is None or digest.head_of(chain_id) is None:
        return None
    return Digest(digest.issued_at, (digest.head_of(chain_id),), digest.key_id,  # type: ignore[arg-type]
                  digest.signature)
