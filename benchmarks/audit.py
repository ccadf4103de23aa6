"""Audit log benchmark: durable appends/s to SQLite under concurrency (group commit), verify
records/s, and optionally replay of every decision in a data dir. Writes JSON.

    .venv/bin/python -m benchmarks.audit [--seconds 5] [--concurrency 256] \
        [--verify-records 200000] [--replay DATA_DIR] [--out FILE]

Targets: >= 5,000 durable appends/s; verify >= 100,000 records/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from audit.group_commit import GroupCommitter
from audit.sqlite import SQLiteAuditStore
from audit.verify import default_jobs, verify_store


def decision_like(i: int) -> dict[str, Any]:
    """A record shaped and sized like a real decision record (~2.5 KB canonical)."""
    feats = {f"feature_{k}": (i * 31 + k) / 7 for k in range(16)}
    return {"type": "decision", "schema_version": 1, "decision_id": f"{i:032x}",
            "application_id": f"BENCH-{i}", "country": ("ES", "PT", "FR")[i % 3],
            "decided_at": "2026-01-01T00:00:00+00:00", "request_sha256": "a" * 64,
            "application": {"applicant": {"national_id": "hmac-sha256:" + "b" * 64,
                                          "customer_ref": "cust-" + "c" * 32,
                                          "personal": {"alg": "A256GCM", "key_ref": "x" * 37,
                                                       "nonce": "n" * 16, "ciphertext": "q" * 240}},
                            "loan": {"amount": 1000.0 + i, "purchase_price": 2000.0,
                                     "term_months": 36}},
            "enrichment": {"bureau": {"status": "ok", "raw_sha256": "d" * 64,
                                      "values": {"records": "no", "debt": 0.0}},
                           "open_banking": {"status": "ok", "raw_sha256": "e" * 64,
                                            "values": {"income": 130.0, "expenses": 45.0}}},
            "raw_inputs": {"age": 30, "amount": 1000.0 + i, "price": 2000.0},
            "features": feats, "model": {"name": "credit-default", "version": "1",
                                         "run_id": "f" * 32},
            "score": {"probability_of_default": 0.123456789, "log_odds": -1.9},
            "explanation": {"base_value": -1.45, "contributions": feats},
            "policy": {"version": "2026-01", "outcome": "approve", "grade": "B", "fired": []},
            "flags": {"mode": "full"}, "shadow": None, "timings_ms": {"total": 12.3},
            "response": {"decision_id": f"{i:032x}", "outcome": "approve"}}


async def _appends(store: SQLiteAuditStore, seconds: float, concurrency: int) -> dict[str, Any]:
    committer = GroupCommitter(store)
    template = decision_like(1)
    done = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            i = next(counter)
            # The record exists before the audit step (the orchestrator built it): only
            # its ids change here, so the timing is the audit path's.
            record = {**template, "decision_id": f"{i:032x}", "application_id": f"BENCH-{i}"}
            await committer.append(record, application_id=f"BENCH-{i}",
                                   decision_id=f"{i:032x}")
            done += 1

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    secs = time.perf_counter() - t
    return {"records": done, "seconds": round(secs, 3), "per_second": round(done / secs),
            "concurrency": concurrency}


def bench_appends(db: Path, seconds: float, concurrency: int) -> dict[str, Any]:
    store = SQLiteAuditStore(db)
    try:
        return {**asyncio.run(_appends(store, seconds, concurrency)),
                "durability": "WAL, synchronous=FULL; a record counts once its commit returned"}
    finally:
        store.close()


def bench_verify(db: Path, n: int) -> dict[str, Any]:
    """Whole-log verify, in one thread and as `credit audit verify` runs it (a worker
    process per CPU); the page cache is warmed first so both read alike."""
    store = SQLiteAuditStore(db)
    have = sum(1 for _ in store.entries())
    batch = 2000
    for start in range(have, n, batch):  # fill up (fast path: big batches, not timed)
        store.append_many([(decision_like(i), None, None)
                           for i in range(start, min(n, start + batch))])
    t = time.perf_counter()
    store.heads()  # what the digest writer asks for every interval
    out: dict[str, Any] = {"heads_ms": round((time.perf_counter() - t) * 1000, 3)}
    for name, jobs in (("one_thread", 1), ("parallel", default_jobs())):
        t = time.perf_counter()
        result = verify_store(store, jobs=jobs)
        secs = time.perf_counter() - t
        assert result.ok, result
        out[name] = {"jobs": jobs, "records": result.checked, "chains": result.chains,
                     "seconds": round(secs, 3), "per_second": round(result.checked / secs)}
    store.close()
    return out


def bench_replay(data_dir: Path) -> dict[str, Any]:
    from app.builder import Builder
    from app.settings import Settings
    from audit.records import DecisionRecord, parse_record
    from decision.replay import ScorerCache, replay_record

    b = Builder(Settings(data_dir=data_dir))
    store, reader = b.audit, b.record_reader
    scorers, policy = ScorerCache(b.registry.load), b.policy
    t = time.perf_counter()
    n = identical = 0
    first_diff = None
    for e in store.entries():
        record = parse_record(e.body)
        if not isinstance(record, DecisionRecord):
            continue
        r = replay_record(record, reader.inputs(record), scorers, policy)
        n += 1
        identical += r.identical
        if not r.identical and first_diff is None:
            first_diff = {"decision_id": r.decision_id, "differences": r.differences[:5]}
    secs = time.perf_counter() - t
    return {"decisions": n, "identical": identical, "seconds": round(secs, 3),
            "per_second": round(n / secs) if secs else None, "first_difference": first_diff}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--verify-records", type=int, default=200_000)
    ap.add_argument("--replay", type=Path, help="data dir whose decisions to replay")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        report: dict[str, Any] = {
            "host": {"python": sys.version.split()[0], "platform": platform.platform(),
                     "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
            "appends": bench_appends(Path(tmp) / "a.db", args.seconds, args.concurrency),
            "verify": bench_verify(Path(tmp) / "v.db", args.verify_records),
        }
    if args.replay:
        report["replay"] = bench_replay(args.replay)
    report["targets_met"] = {"appends_per_s>=5000": report["appends"]["per_second"] >= 5000,
                             "verify_per_s>=100000":
                                 report["verify"]["parallel"]["per_second"] >= 100_000}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
