"""Live latency with the shadow arm healthy, failing or hanging (JSON report).

Every scenario is its own in-process API (real model, simulators over HTTP, SQLite audit);
requests go round-robin over the scenarios so that machine noise hits them all alike.

    .venv/bin/python -m benchmarks.shadow [--requests 400] [--out benchmarks/results/shadow.json]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import threading
import time
from contextlib import AsyncExitStack
from pathlib import Path

import numpy as np
import orjson

from app.builder import Builder
from app.settings import Settings
from app.simulators.server import application_for_row
from decision.arms import ArmOutcome
from tests import servers
from tests.integration.rollout_app import client, settings_for
from training.data import load_credit_data


class BrokenArm:
    def __init__(self, name: str, hang: threading.Event | None) -> None:
        self.name = name
        self.hang = hang

    def evaluate(self, case) -> ArmOutcome:
        if self.hang is not None:
            self.hang.wait(60)
        raise RuntimeError("shadow arm broken")


def _wrap(mode: str, fault: str, release: threading.Event):
    def wrap(services) -> None:
        if fault == "off":
            services.orchestrator.rollout = None
            return
        if fault != "ok":
            arm = "legacy" if mode == "full" else "model"
            setattr(services.orchestrator.rollout, arm,
                    BrokenArm(arm, release if fault == "hang" else None))
    return wrap


async def run(requests: int, base: Path, sims: str) -> dict:
    df = load_credit_data()
    release = threading.Event()
    scenarios = [("full", "off"), *((m, f) for m in ("full", "shadow")
                                    for f in ("ok", "fail", "hang"))]
    lat: dict[str, list[float]] = {f"{m}/{f}": [] for m, f in scenarios}
    statuses: dict[str, dict[str, int]] = {k: {} for k in lat}
    waits: dict[str, list[float]] = {k: [] for k in lat}
    async with AsyncExitStack() as stack:
        clients = {}
        for mode, fault in scenarios:
            d = base / f"{mode}-{fault}"
            shutil.copytree(base / "registry", d)
            settings = settings_for(d, sims, flags_default_mode=mode)
            c, services = await stack.enter_async_context(
                client(settings, _wrap(mode, fault, release)))
            clients[f"{mode}/{fault}"] = (c, services)
        rows = np.random.default_rng(7).integers(1, len(df), requests + 20)
        for i, row in enumerate(rows):
            for name, (c, _) in clients.items():
                app_id = f"B-{name.replace('/', '-')}-{i}"
                body = application_for_row(int(row), df, application_id=app_id)
                t = time.perf_counter()
                r = await c.post("/v1/decisions", json=body)
                ms = (time.perf_counter() - t) * 1000
                assert r.status_code == 200, r.text
                if i >= 20:  # warm-up
                    lat[name].append(ms)
        for name, (_, services) in clients.items():
            for e in services.audit.entries():
                rec = orjson.loads(e.body)
                shadow = rec.get("shadow")
                st = shadow["status"] if shadow else "none"
                statuses[name][st] = statuses[name].get(st, 0) + 1
                # The only place the live path waits on the shadow arm.
                waits[name].append(rec["timings_ms"].get("shadow_wait", 0.0))
    release.set()
    out = {}
    for name, xs in lat.items():
        a = np.array(xs)
        out[name] = {"n": len(a), "p50_ms": float(np.percentile(a, 50)),
                     "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean()),
                     "shadow_status": statuses[name],
                     "shadow_wait_p50_ms": float(np.percentile(waits[name], 50)),
                     "shadow_wait_p99_ms": float(np.percentile(waits[name], 99)),
                     "shadow_wait_max_ms": float(np.max(waits[name]))}
    for mode in ("full", "shadow"):
        ok = out[f"{mode}/ok"]["p99_ms"]
        for fault in ("fail", "hang"):
            out[f"{mode}/{fault}"]["p99_delta_vs_ok_ms"] = out[f"{mode}/{fault}"]["p99_ms"] - ok
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/shadow.json"))
    args = ap.parse_args()
    from training.train import train

    with tempfile.TemporaryDirectory() as tmp, servers.simulators() as sims:
        base = Path(tmp)
        train(Builder(Settings(data_dir=base / "registry")).registry, alias="champion")
        t0 = time.perf_counter()
        result = asyncio.run(run(args.requests, base, sims))
        report = {"benchmark": "shadow", "requests_per_scenario": args.requests,
                  "seconds": round(time.perf_counter() - t0, 1), "scenarios": result,
                  "target": "p99 of fail/hang within 5 ms of ok"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
