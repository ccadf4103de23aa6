"""Feature-store benchmark -> JSON.

  .venv/bin/python benchmarks/feature_store.py [--redis-url URL] [--out FILE]

Measures, on a redis-server of its own on loopback (or --redis-url):
- one entity's features from Redis: latency of RedisFeatureStore.get (p50/p99/max over
  --reads calls), target p99 < 1 ms;
- materialization into Redis: entities/s of `materialize()` reading a Parquet file of
  --entities customers (credit_data's offline vectors, repeated under new ids) in batches,
  target >= 20,000/s;
- a decision's store calls in Redis (ADR 0164): what redis-server spends on them, from its own
  counters (INFO cpu, INFO commandstats): its CPU per decision, and the velocity script's
  time against the commands the script runs (the rest is the script's own overhead).
Each part runs a few seconds at most (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.pii import Pseudonymizer  # noqa: E402
from feature_store.materialize import CUSTOMER_SET, ENTITY_COLUMN, materialize  # noqa: E402
from feature_store.protocol import FeatureSet  # noqa: E402
from feature_store.redis import RedisConfig, RedisFeatureStore  # noqa: E402
from feature_store.velocity import Velocity  # noqa: E402
from models.features import FEATURE_NAMES, feature_matrix  # noqa: E402
from training.data import load_credit_data, raw_columns  # noqa: E402


def sample_file(path: Path, n: int) -> None:
    x = feature_matrix(raw_columns(load_credit_data()))
    reps = int(np.ceil(n / len(x)))
    df = pd.DataFrame(np.tile(x, (reps, 1))[:n], columns=list(FEATURE_NAMES))
    df.insert(0, ENTITY_COLUMN, [f"C-{i}" for i in range(1, n + 1)])
    df.to_parquet(path, index=False)


def read_latency(store: RedisFeatureStore, reads: int) -> dict:
    store.put_many(CUSTOMER_SET, {f"C-{i}": {"v": i} for i in range(1000)})
    row = dict(zip(FEATURE_NAMES, feature_matrix(raw_columns(load_credit_data().head(1)))[0],
                   strict=True))
    store.put(CUSTOMER_SET, "C-bench", {k: float(v) for k, v in row.items()})
    for _ in range(1000):  # warm up the connection and the code path
        store.get(CUSTOMER_SET, "C-bench")
    lat = np.empty(reads)
    for i in range(reads):
        t = time.perf_counter_ns()
        store.get(CUSTOMER_SET, "C-bench")
        lat[i] = (time.perf_counter_ns() - t) / 1e6
    return {"reads": reads, "p50_ms": round(float(np.percentile(lat, 50)), 4),
            "p99_ms": round(float(np.percentile(lat, 99)), 4),
            "max_ms": round(float(lat.max()), 4), "target_p99_ms": 1.0,
            "met": bool(np.percentile(lat, 99) < 1.0)}


def materialization(store: RedisFeatureStore, entities: int, batch: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.parquet"
        sample_file(path, entities)
        t = time.perf_counter()
        res = materialize(store, path, Path(tmp) / "cp.json", batch_size=batch)
        secs = time.perf_counter() - t
    rate = res.rows_written / secs
    return {"entities": res.rows_written, "batch_size": batch, "seconds": round(secs, 3),
            "entities_per_s": round(rate), "target_entities_per_s": 20_000,
            "met": rate >= 20_000}


# Commands the client sends; every other one counted runs inside the velocity script.
_ADMIN = ("info", "config|resetstat")
_FROM_CLIENT = ("evalsha", "get", *_ADMIN)


def decision_calls(store: RedisFeatureStore, url: str, decisions: int, customers: int) -> dict:
    """A decision's feature-store calls as the orchestrator makes them in one lane turn
    (core/blocking.py): two cached source reads and the velocity script, one pipeline.
    Customers have applied before (up to 20 days back), so the window hashes hold buckets.
    It resets the server's command statistics (CONFIG RESETSTAT)."""
    velocity = Velocity(store, Pseudonymizer(b"k" * 32))
    sources = FeatureSet("bench_source", "1")
    rng = np.random.default_rng(7)
    now = time.time()
    for i in range(customers):
        store.put(sources, f"C-{i}", {"score": i}, ttl_s=3600)
        for ago in rng.uniform(0, 20 * 86400, 5):
            velocity.record(f"C-{i}", f"N-{i}", now - ago)
    server = redis.Redis.from_url(url)
    server.config_resetstat()

    def cpu_s() -> float:
        info = server.info("cpu")
        return info["used_cpu_sys"] + info["used_cpu_user"]

    before, t = cpu_s(), time.perf_counter()
    for i in rng.integers(0, customers, decisions):
        store.call_many([(store.get, (sources, f"C-{i}")), (store.get, (sources, f"C-{i}")),
                         (store.increment_and_sum, velocity.record_args(f"C-{i}", f"N-{i}"))])
    wall, cpu = time.perf_counter() - t, cpu_s() - before
    stats = {k.removeprefix("cmdstat_"): v for k, v in server.info("commandstats").items()}
    script = stats["evalsha"]["usec"]
    inside = sum(v["usec"] for k, v in stats.items() if k not in _FROM_CLIENT)
    server.close()
    return {"decisions": decisions, "customers": customers,
            "server_cpu_us_per_decision": round(cpu / decisions * 1e6, 1),
            "client_wall_us_per_decision": round(wall / decisions * 1e6, 1),
            "script_us_per_call": round(script / decisions, 1),
            "commands_in_script_us_per_call": round(inside / decisions, 1),
            "commands": {k: {"calls": v["calls"], "usec_per_call": v["usec_per_call"]}
                         for k, v in stats.items() if k not in _ADMIN}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-url")
    ap.add_argument("--reads", type=int, default=20_000)
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--batch-size", type=int, default=5_000)
    ap.add_argument("--decisions", type=int, default=5_000)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/feature_store.json"))
    args = ap.parse_args()
    with ExitStack() as stack:
        url = args.redis_url
        if url is None:
            from tests.servers import redis_server

            url, _ = stack.enter_context(redis_server())
        store = RedisFeatureStore(RedisConfig(url=url, socket_timeout_s=5.0))
        report = {"benchmark": "feature_store", "python": platform.python_version(),
                  "cpus": os.cpu_count(), "load_average_1m_before": os.getloadavg()[0],
                  "machine": platform.machine(), "redis_read_one_entity": read_latency(store, args.reads),
                  "materialize_into_redis": materialization(store, args.entities, args.batch_size),
                  "decision_calls": decision_calls(store, url, args.decisions, 500)}
        report["load_average_1m_after"] = os.getloadavg()[0]
        store.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
