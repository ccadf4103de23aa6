"""Closed-loop maximum throughput with wrk (Debian: `apt-get install wrk`).

Closed loop: each connection sends its next request when the previous answer arrives, so
latencies here understate what a user would see at a fixed arrival rate once the server
falls behind (coordinated omission); benchmarks/openloop.py measures that instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("wrk_bodies.lua")
PERCENTILES = {"50": "p50", "90": "p90", "95": "p95", "99": "p99", "99.9": "p99_9"}


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (Debian/Ubuntu)")
    return path


def run_wrk(url: str, bodies: Path, *, connections: int, duration_s: float,
            authorization: str | None = None, id_prefix: str | None = None,
            timeout_s: float = 5.0) -> dict[str, Any]:
    """One wrk run; returns requests/s, latency percentiles (ms) and errors."""
    threads = max(1, min(2, connections))  # 2 cores: more threads only steal the server's CPU
    args = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s",
            f"--timeout={timeout_s:g}s", "-s", str(SCRIPT)]
    args += [url, "--", str(bodies)] + ([id_prefix] if id_prefix else [])
    env = {**os.environ, "BENCH_AUTHORIZATION": authorization or ""}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=duration_s + 60, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout}")
    return summarize(json.loads(line.removeprefix("WRK_JSON ")), connections, threads)


def summarize(raw: dict[str, Any], connections: int, threads: int) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    errors = dict(raw["errors"])
    # wrk counts a response with status > 399 under "status"; the rest are socket errors.
    errors["non_2xx"] = errors.pop("status")
    errors["socket"] = sum(errors[k] for k in ("connect", "read", "write", "timeout"))
    lat = raw["latency_us"]
    return {
        "kind": "closed_loop", "tool": "wrk", "connections": connections, "threads": threads,
        "duration_s": round(seconds, 3), "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "latency_ms": {
            **{name: round(lat["percentiles"][key] / 1000, 3) for key, name in PERCENTILES.items()},
            "mean": round(lat["mean"] / 1000, 3), "max": round(lat["max"] / 1000, 3)},
        "errors": errors,
    }
