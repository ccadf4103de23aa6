"""Decision latency under injected enrichment faults, against a real API process and the
simulators over HTTP. Writes a JSON report with p50/p99 per scenario.

    .venv/bin/python -m benchmarks.enrichment_faults [--requests 200] [--concurrency 8]
        [--data-dir DIR_WITH_A_TRAINED_REGISTRY] [--out benchmarks/results/enrichment_faults.json]

Without --data-dir a model is trained once into benchmarks/results/model-data and reused.
Each scenario heals the simulators and waits until decisions are no longer degraded (the
breaker has closed) before it starts, so scenarios do not bleed into each other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

from app.builder import Builder
from app.simulators.server import application_for_row
from tests import servers
from tests.faults import FaultClient

CACHED_MODEL = Path("benchmarks/results/model-data")
SCENARIOS: dict[str, dict | None] = {
    "healthy": {},
    "bureau_latency_100ms": {"latency_ms": 100, "jitter_ms": 50, "seed": 1},
    "bureau_5xx_50pct": {"error_rate": 0.5, "error_status": 503, "seed": 2},
    "bureau_5xx_all": {"error_rate": 1.0, "error_status": 503},
    "bureau_4xx_all": {"error_rate": 1.0, "error_status": 404},
    "bureau_malformed": {"malformed_rate": 1.0},
    "bureau_hang": {"hang": True},
    "bureau_refused": None,  # a second API whose bureau URL is a closed port
}


def percentiles(xs: list[float]) -> dict[str, float]:
    a = np.array(xs) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 2),
            "p90_ms": round(float(np.percentile(a, 90)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2),
            "max_ms": round(float(a.max()), 2), "mean_ms": round(float(a.mean()), 2)}


def run_load(client: httpx.Client, n: int, concurrency: int, tag: str) -> dict:
    bodies = [application_for_row(1 + i % 4454, application_id=f"BENCH-{tag}-{i}-{time.time_ns()}")
              for i in range(n)]

    def one(body: dict) -> tuple[float, int, list]:
        t = time.perf_counter()
        r = client.post("/v1/decisions", json=body)
        elapsed = time.perf_counter() - t
        degraded = r.json().get("degraded", []) if r.status_code == 200 else []
        return elapsed, r.status_code, [d["reason"] for d in degraded if d["source"] == "bureau"]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, bodies))
    wall = time.perf_counter() - t0
    return {"requests": n, "throughput_rps": round(n / wall, 1),
            **percentiles([r[0] for r in results]),
            "status_codes": dict(Counter(str(r[1]) for r in results)),
            "bureau_degraded": dict(Counter(x for r in results for x in r[2]))}


def wait_healthy(client: httpx.Client, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = application_for_row(1, application_id=f"WARM-{time.time_ns()}")
        r = client.post("/v1/decisions", json=body)
        if r.status_code == 200 and not r.json()["degraded"]:
            return
        time.sleep(0.25)
    raise RuntimeError("API did not recover between scenarios")


def open_breaker_cost(n: int = 5000) -> dict:
    """In-process: the cost of one fetch on an open breaker (no I/O happens)."""
    from sources.base import DependencyError
    from sources.resilience import ResilientSource, RetryPolicy, new_breaker

    class Failing:
        name = "bureau"

        async def fetch(self, national_id: str):
            raise DependencyError("bureau", "server_error")

    async def go() -> list[float]:
        src = ResilientSource(Failing(), new_breaker("bureau", 1, 3600), RetryPolicy(attempts=1))
        costs = []
        for _ in range(n + 1):
            t = time.perf_counter()
            with contextlib.suppress(DependencyError):
                await src.fetch("x")
            costs.append(time.perf_counter() - t)
        return costs[1:]  # the first call is the one that opened it

    costs = asyncio.run(go())
    return {"calls": n, "p50_us": round(statistics.median(costs) * 1e6, 1),
            "p99_us": round(float(np.percentile(costs, 99)) * 1e6, 1),
            "max_us": round(max(costs) * 1e6, 1)}


@contextmanager
def api_process(env: dict[str, str], log: Path) -> Iterator[str]:
    """The API as in tests/servers.py, with a longer start-up allowance (a busy machine)."""
    port = servers.free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app_from_env",
                                 "--factory", "--port", str(port), "--log-level", "warning"],
                                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        try:
            servers.wait_http(f"{base}/healthz", proc, timeout_s=300)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def ensure_model(data_dir: Path | None, tmp: Path) -> Path:
    """A copy of a trained registry: --data-dir, or one trained once and kept for reruns."""
    from app.settings import Settings
    from training.train import train

    if data_dir is None:
        data_dir = CACHED_MODEL
        if not (data_dir / "mlflow.db").exists():
            train(Builder(Settings(data_dir=data_dir)).registry, alias="champion")
    dst = tmp / "data"
    shutil.copytree(data_dir, dst)
    for name in ("audit.db", "audit.db-wal", "audit.db-shm"):
        (dst / name).unlink(missing_ok=True)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--deadline", type=float, default=0.8)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/enrichment_faults.json"))
    args = ap.parse_args()
    env_extra = {"CREDIT_ENRICHMENT_DEADLINE_S": str(args.deadline),
                 "CREDIT_ENRICHMENT_TIMEOUT_S": str(args.timeout),
                 "CREDIT_BREAKER_FAIL_MAX": "5", "CREDIT_BREAKER_RESET_TIMEOUT_S": "2"}
    report: dict = {"settings": {**env_extra, "requests": args.requests,
                                 "concurrency": args.concurrency},
                    "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                    "scenarios": {}}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        data = ensure_model(args.data_dir, tmp)
        with servers.simulators() as sims:
            faults = FaultClient(sims)
            # models/registry.py resolves models:/ URIs through MLflow's global registry URI
            # (inherited from train()'s process in tests); point it at this data dir.
            mlflow_uri = f"sqlite:///{data.resolve() / 'mlflow.db'}"
            env = {"CREDIT_DATA_DIR": str(data), "CREDIT_BUREAU_URL": f"{sims}/bureau",
                   "CREDIT_OPEN_BANKING_URL": f"{sims}/open-banking", **env_extra,
                   "MLFLOW_TRACKING_URI": mlflow_uri, "MLFLOW_REGISTRY_URI": mlflow_uri}
            with api_process(env, tmp / "api.log") as base, \
                    httpx.Client(base_url=base, timeout=30,
                                 limits=httpx.Limits(max_connections=args.concurrency)) as client:
                for name, fault in SCENARIOS.items():
                    if fault is None:
                        continue
                    faults.reset()
                    wait_healthy(client)
                    faults.set("bureau", **fault)
                    before = faults.calls("bureau")
                    result = run_load(client, args.requests, args.concurrency, name)
                    result["bureau_calls"] = faults.calls("bureau") - before
                    report["scenarios"][name] = {"faults": fault, **result}
                    print(name, json.dumps(result), flush=True)
                faults.reset()
            closed = f"http://127.0.0.1:{servers.free_port()}/bureau"
            refused_env = {**env, "CREDIT_BUREAU_URL": closed,
                           "CREDIT_DATA_DIR": str(shutil.copytree(data, tmp / "refused"))}
            with api_process(refused_env, tmp / "api-refused.log") as base, \
                    httpx.Client(base_url=base, timeout=30) as client:
                result = run_load(client, args.requests, args.concurrency, "refused")
                report["scenarios"]["bureau_refused"] = {"faults": "closed port", **result}
                print("bureau_refused", json.dumps(result), flush=True)
    report["open_breaker_fetch"] = open_breaker_cost()
    print("open_breaker_fetch", json.dumps(report["open_breaker_fetch"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
