"""Review desk benchmark: how fast the review store catches up with the audit log (the cost of
a restart after kill -9, or of rebuilding the store), how fast the live projector drains a
burst of referrals, and the latency of a reviewer's decision (audit append + compare-and-set).
Writes JSON.

    .venv/bin/python -m benchmarks.review [--records 50000] [--decisions 500] [--out FILE]

The log holds real-shaped decision records (typed, ~2.5 KB): 70% approve, 20% refer, 10%
decline, as credit_data gives roughly.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from audit.keystore import SQLiteCustomerKeyStore
from audit.pii import EnvelopeCipher
from audit.records import (
    DecisionInputs,
    DecisionRecord,
    DecisionResponse,
    Explanation,
    FiredRule,
    FlagState,
    ModelRef,
    PolicySection,
    Reason,
    ScoreSection,
    Sealed,
    SourceAnswer,
    to_json,
)
from audit.sqlite import SQLiteAuditStore
from models.features import FEATURE_NAMES
from review.desk import ReviewDesk
from review.model import CaseQuery, ReviewRules
from review.projection import Projection, referral_id
from review.projector import ReviewProjector
from review.reasons import ReasonCodes
from review.sealing import CustomerSealer
from review.sqlite import SQLiteReviewStore


def outcome_of(i: int) -> str:
    return "refer" if i % 10 in (1, 2) else "decline" if i % 10 == 3 else "approve"


def features_of(i: int) -> dict[str, float]:
    return {f: (i * 31 + k) / 7 for k, f in enumerate(FEATURE_NAMES)}


def record(i: int, key_ref: str) -> DecisionRecord:
    """A schema-2 record: its inputs sealed (an opaque block here: the projection reads them
    through `inputs`, as the service reads them through the customer's key)."""
    outcome = outcome_of(i)
    did = f"{i:032x}"
    feats = features_of(i)
    sealed = {"alg": "A256GCM", "key_ref": key_ref, "nonce": "n" * 16, "ciphertext": "q" * 240}
    fired = [FiredRule(rule="score_refer", effect="refer", detail="probability of default "
                       "between 0.25 and 0.55")] if outcome == "refer" else []
    return DecisionRecord(
        decision_id=did, application_id=f"BENCH-{i}", country=("ES", "PT", "FR")[i % 3],
        decided_at="2026-11-20T10:00:00+00:00", request_sha256="a" * 64,
        application={"application_id": f"BENCH-{i}", "country": "ES", "applicant": {
            "national_id": "hmac-sha256:" + "b" * 64, "customer_ref": f"cust-{i % 500:032x}",
            "personal": sealed},
            "loan": {"amount": 800.0 + i % 5000, "purchase_price": 6000.0, "term_months": 36}},
        enrichment={"bureau": SourceAnswer(status="ok", raw_sha256="d" * 64, latency_ms=2.1),
                    "open_banking": SourceAnswer(status="ok", raw_sha256="e" * 64,
                                                 latency_ms=2.4)},
        personal=Sealed(**{**sealed, "ciphertext": "p" * 1600}),
        feature_set_version="1",
        model=ModelRef(name="credit-default", version="1", run_id="f" * 32),
        score=ScoreSection(probability_of_default=0.3, log_odds=-0.85),
        explanation=Explanation(base_value=-1.45, contributions=feats),
        policy=PolicySection(version="2026.11.3", outcome=outcome, grade="D", fired=fired),
        flags=FlagState(mode="full", decided_by="model"), shadow=None,
        timings_ms={"total": 12.3},
        response=DecisionResponse(decision_id=did, application_id=f"BENCH-{i}",
                                  outcome=outcome, probability_of_default=0.3, grade="D",
                                  decided_by="model", model_version="1",
                                  reasons=[Reason(code="R01_AGE", feature="age", text="Age",
                                                  contribution=0.2)], degraded=[]))


def inputs(rec: DecisionRecord) -> DecisionInputs:
    i = int(rec.decision_id, 16)
    return DecisionInputs(raw_inputs={"age": 30, "amount": 800.0 + i % 5000},
                          features=features_of(i), velocity={"customer_applications_24h": 1},
                          sources={})


def build_log(audit: SQLiteAuditStore, n: int, key_ref: str) -> float:
    batch = 500
    for start in range(0, n, batch):
        audit.append_many([(to_json(record(i, key_ref)), f"BENCH-{i}", f"{i:032x}")
                           for i in range(start, min(start + batch, n))])
    return os.path.getsize(audit._path) / 1e6  # noqa: SLF001 - size of the file we made


def bench(records: int, decisions: int, workdir: Path) -> dict[str, Any]:
    audit = SQLiteAuditStore(workdir / "audit.db")
    cipher = EnvelopeCipher([b"k" * 32], SQLiteCustomerKeyStore(workdir / "keys.db"))
    key_ref, _ = cipher.key_for("cust-bench")  # reviewers' notes are sealed under it
    mb = build_log(audit, records, key_ref)
    store = SQLiteReviewStore(workdir / "reviews.db")
    projection = Projection(store, ReviewRules(), inputs)
    projector = ReviewProjector(projection, audit, interval_s=0, grace_s=0)

    t = time.perf_counter()
    first = projector.catch_up()
    full_s = time.perf_counter() - t
    t = time.perf_counter()
    idle = projector.catch_up()
    idle_s = time.perf_counter() - t

    # The live path: refer records queued as the orchestrator does after each append, one
    # thread applying them (its log is empty: the start-up catch-up finds nothing).
    burst = SQLiteReviewStore(workdir / "burst.db")
    live = ReviewProjector(Projection(burst, ReviewRules(), inputs),
                           SQLiteAuditStore(workdir / "empty.db"), interval_s=0,
                           queue_size=10 * decisions)
    refers = [record(i, key_ref) for i in range(records, records + 10 * decisions)
              if outcome_of(i) == "refer"]
    t = time.perf_counter()
    for r in refers:
        live.on_decision(r)
    enqueue_us = (time.perf_counter() - t) / len(refers) * 1e6
    t = time.perf_counter()
    live.start()
    live.drain(timeout_s=600)
    drain_s = time.perf_counter() - t
    live.stop()

    desk = ReviewDesk(projection, audit, ReasonCodes.load(), CustomerSealer(cipher))
    open_cases = store.list_cases(CaseQuery(limit=decisions))
    latencies = []
    for i, case in enumerate(open_cases):
        t = time.perf_counter()
        desk.decide(case.review_id, "approve", "VERIFIED_INCOME", "payslips" if i % 2 else None,
                    f"k{i % 7}")
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    assert store.get_case(referral_id(open_cases[0].decision_id)).outcome == "approve"  # noqa: S101
    return {
        "log": {"records": records, "mb": round(mb, 1)},
        "catch_up_from_empty": {"entries": first.entries, "cases_and_notices": first.decisions,
                                "seconds": round(full_s, 3),
                                "entries_per_second": round(first.entries / full_s)},
        "catch_up_nothing_new": {"entries": idle.entries, "ms": round(idle_s * 1000, 2)},
        "live_projector": {"referrals": len(refers), "enqueue_us": round(enqueue_us, 2),
                           "drain_seconds": round(drain_s, 3),
                           "cases_per_second": round(len(refers) / drain_s)},
        "reviewer_decision_ms": {"n": len(latencies),
                                 "p50": round(statistics.median(latencies), 3),
                                 "p99": round(latencies[int(0.99 * (len(latencies) - 1))], 3),
                                 "max": round(latencies[-1], 3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--decisions", type=int, default=500)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        result = bench(args.records, args.decisions, Path(tmp))
    report = {"benchmark": "review", "python": sys.version.split()[0],
              "machine": platform.machine(), "cpus": os.cpu_count(), **result}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
