"""Monitoring at scale (JSON report): a log of N synthetic decisions (default 100,000:
training/synth.py fitted on credit_data, scored by the real model and scorecard, 50% canary
over three countries, spread over 180 days, recorded as the orchestrator records them),
outcomes for the approved loans old enough to have one, ingested from a Parquet file; the
read model projected once; then both monitoring endpoints of a real API process timed cold
(its first request) and warm, and after 1,000 more decisions (the catch-up on request).

    .venv/bin/python -m benchmarks.monitoring [--decisions 100000] [--warm 10] \
        [--data-dir DIR] [--work-dir DIR] [--out benchmarks/results/monitoring.json]

--data-dir copies a trained model from there; --work-dir keeps the run, and a second run
with the same work dir times the endpoints again on the log already filled.

Target: each endpoint answers in under 2 s over 100,000 decisions.
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
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from app.builder import Builder
from app.settings import Settings
from audit.records import (
    Comparison,
    DecisionRecord,
    DecisionResponse,
    Explanation,
    FiredRule,
    FlagState,
    ModelRef,
    PolicySection,
    ScoreSection,
    ShadowSection,
    SourceAnswer,
    to_json,
)
from benchmarks import stack
from decision.arms import ArmOutcome, Case, LegacyArm, ModelArm
from models.features import FEATURE_NAMES, FEATURE_SET_VERSION, RAW_FIELDS, as_dict, feature_matrix
from models.scorer import Score, Scorer, sigmoid
from monitoring.files import ingest_file
from shadow.scorecard import Scorecard
from training.data import raw_columns
from training.synth import Generator

COUNTRIES, SHARES = ("ES", "PT", "FR"), (0.5, 0.3, 0.2)
DAYS = 180
OUTCOME_AFTER_DAYS = 60  # loans younger than this have no outcome yet
TARGET_S = 2.0
CUSTOMERS = 10_000  # returning customers: each has one data key (created on first use)


def _scores(scorer: Scorer, x: np.ndarray) -> list[Score]:
    """Every row's exact explanation in one multi-threaded call (the live path makes the
    same numbers one row at a time)."""
    contrib = scorer.booster.predict(x, pred_contrib=True)
    out = []
    for row in contrib:
        phi = row[:-1] * scorer.a
        base = float(row[-1] * scorer.a + scorer.b)
        log_odds = base + float(phi.sum())
        out.append(Score(sigmoid(log_odds), log_odds, base, phi))
    return out


def _record(i: int, b: Builder, case: Case, model: ArmOutcome, legacy: ArmOutcome,
            live_is_model: bool, at: datetime, row: dict[str, Any]) -> DecisionRecord:
    live, other = (model, legacy) if live_is_model else (legacy, model)
    decision_id, app_id = uuid.UUID(int=i + 1).hex, f"BENCH-{i}"
    application = {"application_id": app_id, "country": case.country,
                   "applicant": {"customer_id": f"SC-{i % CUSTOMERS}", "national_id": f"S{i:08d}",
                                 "age": row["age"], "marital_status": row["marital"],
                                 "home": row["home"], "job": row["job"],
                                 "seniority_years": row["seniority"]},
                   "loan": {"amount": row["amount"], "purchase_price": row["price"],
                            "term_months": row["time"]},
                   "consent": {"bureau": True, "open_banking": True}}
    score, policy = model.score, model.policy
    assert score is not None and policy is not None  # noqa: S101
    sections: dict[str, Any] = {"score": None, "explanation": None, "policy": None,
                                "legacy": legacy.result()}
    if live_is_model:
        sections = {"score": ScoreSection(probability_of_default=score.probability,
                                          log_odds=score.log_odds),
                    "explanation": Explanation(base_value=score.base_value, contributions=dict(
                        zip(FEATURE_NAMES, map(float, score.contributions), strict=True))),
                    "policy": PolicySection(version=policy.version, outcome=policy.outcome,
                                            grade=policy.grade,
                                            fired=[FiredRule(rule=f.rule, effect=f.effect,
                                                             detail=f.detail)
                                                   for f in policy.fired])}
    return DecisionRecord(
        decision_id=decision_id, application_id=app_id, country=case.country,
        decided_at=at.isoformat(), request_sha256=f"{i:064x}",
        application=b.protector.protect(application),
        enrichment={"bureau": SourceAnswer(status="ok", values={
                        "bad_records": row["records"] == 1.0, "debt": row["debt"]},
                        raw_sha256="d" * 64, latency_ms=1.2),
                    "open_banking": SourceAnswer(status="ok", values={
                        k: row[k] for k in ("income", "expenses", "assets")},
                        raw_sha256="e" * 64, latency_ms=1.5)},
        velocity={"customer_applications_24h": 1, "national_id_applications_24h": 1},
        raw_inputs=case.raw, feature_set_version=FEATURE_SET_VERSION, features=case.features,
        model=ModelRef(name=b.settings.model_name, version=case.scorer.version,
                       run_id=case.scorer.model.run_id), **sections,
        flags=FlagState(mode="canary", decided_by=live.arm, country=case.country,
                        percent_bp=5000, flag_version=1, bucket=i % 10_000),
        shadow=ShadowSection(arm=other.arm, status="ok", error=None, elapsed_ms=0.05,
                             result=other.result(), comparison=Comparison(
                                 legacy_outcome=legacy.outcome, model_outcome=model.outcome,
                                 legacy_points=legacy.points,
                                 model_probability=model.probability_of_default,
                                 agree=legacy.outcome == model.outcome)),
        timings_ms={"total": 5.0},
        response=DecisionResponse(
            decision_id=decision_id, application_id=app_id, outcome=live.outcome,
            probability_of_default=model.probability_of_default if live_is_model else None,
            grade=model.grade if live_is_model else None, decided_by=live.arm,
            model_version=case.scorer.version if live_is_model else None, reasons=[],
            degraded=[]))


def fill_log(b: Builder, n: int, seed: int, start: int = 0) -> tuple[dict[str, Any], pd.DataFrame]:
    """Append n decisions to b's audit log; returns timings and what the outcomes need."""
    t0 = time.perf_counter()
    df = Generator.fit().sample(n, seed=seed).reset_index(drop=True)
    x = feature_matrix(raw_columns(df))
    scorer = Scorer(b.registry.load_alias(b.settings.model_alias))
    scores = _scores(scorer, x)
    model_arm, legacy_arm = ModelArm(b.policy), LegacyArm(Scorecard.load())
    rng = np.random.default_rng(seed)
    countries = rng.choice(COUNTRIES, n, p=SHARES)
    model_live = rng.random(n) < 0.5
    now = datetime.now(UTC)
    ages = np.sort(rng.uniform(0, DAYS, n))[::-1]
    raw_rows = pd.DataFrame(raw_columns(df)).to_dict("records")
    t1 = time.perf_counter()
    batch, facts = [], []
    for i in range(n):
        case = Case(str(countries[i]), x[i:i + 1], {f: raw_rows[i][f] for f in RAW_FIELDS},
                    as_dict(x[i]), [], None, scorer)
        policy = model_arm.policy.decide(case.country, scores[i].probability, case.raw,
                                         case.features, [])
        model = ArmOutcome("model", policy.outcome, scorer.version,
                           probability_of_default=scores[i].probability, grade=policy.grade,
                           score=scores[i], policy=policy)
        legacy = legacy_arm.evaluate(case)
        at = now - timedelta(days=float(ages[i]))
        rec = _record(start + i, b, case, model, legacy, bool(model_live[i]), at, raw_rows[i])
        batch.append((to_json(rec), rec.application_id, rec.decision_id))
        facts.append((rec.decision_id, rec.response.outcome, at, int(df.loc[i, "bad"])))
        if len(batch) == 2000 or i == n - 1:
            b.audit.append_many(batch)
            batch = []
    t2 = time.perf_counter()
    return ({"decisions": n, "scoring_s": round(t1 - t0, 1), "record_and_append_s": round(t2 - t1, 1),
             "records_per_s": round(n / (t2 - t1))},
            pd.DataFrame(facts, columns=["decision_id", "outcome", "at", "bad"]))


def outcomes_file(facts: pd.DataFrame, path: Path) -> int:
    """The approved loans old enough to have an outcome: their synthetic status."""
    now = datetime.now(UTC)
    ready = facts[(facts["outcome"] == "approve")
                  & (facts["at"] < now - timedelta(days=OUTCOME_AFTER_DAYS))]
    pd.DataFrame({"decision_id": ready["decision_id"], "defaulted": ready["bad"].astype(bool),
                  "observed_at": (now.date()).isoformat(), "loan_taken": True,
                  "months_on_book": ((now - ready["at"]).dt.days // 30).astype(int)}
                 ).to_parquet(path, index=False)
    return len(ready)


def timed_get(client: httpx.Client, path: str, **params: str) -> tuple[float, dict]:
    t = time.perf_counter()
    r = client.get(path, params=params)
    secs = time.perf_counter() - t
    r.raise_for_status()
    return secs, r.json()


def endpoints(prepared: stack.Prepared, run_dir: Path, warm: int, b: Builder) -> dict[str, Any]:
    env = {"CREDIT_MONITORING_REFRESH_S": "0", "CREDIT_MODEL_POLL_S": "0"}
    out: dict[str, Any] = {}
    since = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    with stack.api(prepared, "http://127.0.0.1:9", 1, env, run_dir, "monitoring") as base, \
            httpx.Client(base_url=base, timeout=120,
                         headers={"Authorization": prepared.authorization}) as c:
        for name, path in (("performance", "/v1/monitoring/performance"),
                           ("drift", "/v1/monitoring/drift")):
            cold, doc = timed_get(c, path)
            runs = [timed_get(c, path)[0] for _ in range(warm)]
            filtered = [timed_get(c, path, country="ES", since=since)[0] for _ in range(warm)]
            out[name] = {"cold_s": round(cold, 3), "warm_p50_s": round(statistics.median(runs), 3),
                         "warm_max_s": round(max(runs), 3),
                         "warm_es_last_30_days_p50_s": round(statistics.median(filtered), 3),
                         "server_query_s": doc["query_seconds"]}
        out["performance"]["groups"] = len(doc_groups := timed_get(
            c, "/v1/monitoring/performance")[1]["groups"])
        out["performance"]["decisions_in_groups"] = sum(g["decisions"] for g in doc_groups)
        # 1,000 new decisions (another writer's chain): the next answer catches up first.
        fill_log(b, 1000, seed=99, start=time.time_ns() // 1000)  # new application ids
        secs, doc = timed_get(c, "/v1/monitoring/performance")
        out["after_1000_new_decisions"] = {"performance_s": round(secs, 3),
                                           "freshness": doc["freshness"]}
    return out


def ingest_and_project(run_dir: Path, b: Builder) -> dict[str, Any]:
    """Ingest the outcomes file and project the read model; what each took."""
    report: dict[str, Any] = {}
    path = run_dir / "outcomes.parquet"
    t = time.perf_counter()
    result = ingest_file(b.outcomes, path, run_dir / "checkpoints", actor="benchmark",
                         restart=True)
    secs = time.perf_counter() - t
    report["outcomes"] = {"rows": result.rows, "accepted": result.accepted,
                          "seconds": round(secs, 1), "per_second": round(result.rows / secs)}
    fresh = b.monitor.refresh()
    report["projection"] = {"records": fresh.projected, "seconds": round(fresh.seconds, 1),
                            "per_second": round(fresh.projected / fresh.seconds),
                            "outcome_store_mb": round(
                                b.settings.outcome_db_path.stat().st_size / 2**20, 1)}
    return report


def run(run_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Fill the log (unless the work dir has one), ingest and project (unless done), time
    the endpoints."""
    data_dir = run_dir / "data"
    filled, projected = (data_dir / "audit.db").exists(), (data_dir / "outcomes.db").exists()
    if args.data_dir and not filled:
        import shutil

        shutil.copytree(args.data_dir, data_dir, ignore=shutil.ignore_patterns(
            "audit*.db*", "outcomes.db*", "features.db*", "checkpoints"))
    prepared = stack.prepare_data_dir(data_dir, log=lambda m: print(m, file=sys.stderr))
    b = Builder(Settings(data_dir=data_dir))
    report: dict[str, Any] = {"host": {"python": sys.version.split()[0],
                                       "platform": platform.platform(),
                                       "cpus": os.cpu_count(), "load_avg": os.getloadavg()}}
    if filled:
        report["reused"] = str(run_dir)
    else:
        report["log"], facts = fill_log(b, args.decisions, seed=7)
        outcomes_file(facts, run_dir / "outcomes.parquet")
    if projected:
        b.monitor.refresh()  # what an earlier timing run added
    else:
        report.update(ingest_and_project(run_dir, b))
    report["endpoints"] = endpoints(prepared, run_dir, args.warm, b)
    b.close()
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--decisions", type=int, default=100_000)
    ap.add_argument("--warm", type=int, default=10)
    ap.add_argument("--data-dir", type=Path, help="a data dir with a trained model to copy")
    ap.add_argument("--work-dir", type=Path, help="keep the run here (and reuse it)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        report = run(args.work_dir, args)
    else:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            report = run(Path(tmp), args)
    e = report["endpoints"]
    report["targets_met"] = {f"{name}_under_{TARGET_S:g}s_cold_and_warm":
                             e[name]["cold_s"] < TARGET_S and e[name]["warm_max_s"] < TARGET_S
                             for name in ("performance", "drift")}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
