"""The JSON report's derived parts: ratios to the peer, the issue's targets, the machine."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

CAVEATS = (
    "Client, servers and simulators share one machine: the load generator takes CPU from the "
    "server, so absolute numbers are lower than on separate machines, and other processes on "
    "the machine (see load_average) add noise. Closed-loop (wrk) latencies suffer coordinated "
    "omission; open-loop latencies are measured from each request's intended send time. "
    "Stage breakdowns come from one worker's /metrics (Prometheus buckets, so quantiles are "
    "approximate). Compare the API with the peer only within one report.")


def _best(result: dict[str, Any]) -> float:
    return max((p["requests_per_s"] for p in result.get("closed_loop", [])), default=0.0)


def _by_connections(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {p["connections"]: p for p in result.get("closed_loop", [])}


def ratios(api: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """API / peer: throughput at each connection count and at best, p99 latency alike."""
    a, p = _by_connections(api), _by_connections(peer)
    out: dict[str, Any] = {"best_requests_per_s": _ratio(_best(api), _best(peer)),
                           "requests_per_s": {}, "p99_latency": {}}
    for c in sorted(set(a) & set(p)):
        out["requests_per_s"][str(c)] = _ratio(a[c]["requests_per_s"], p[c]["requests_per_s"])
        out["p99_latency"][str(c)] = _ratio(a[c]["latency_ms"]["p99"], p[c]["latency_ms"]["p99"])
    if api.get("open_loop") and peer.get("open_loop"):
        out["open_loop_p99_latency"] = _ratio(api["open_loop"]["latency_ms"].get("p99"),
                                              peer["open_loop"]["latency_ms"].get("p99"))
    return out


def _ratio(x: float | None, y: float | None) -> float | None:
    return round(x / y, 2) if x is not None and y else None


def _target(name: str, measured: float | None, limit: float, at_least: bool,
            valid: bool, why_not: str) -> dict[str, Any]:
    met = None if measured is None else (measured >= limit if at_least else measured <= limit)
    return {"target": name, "measured": measured, "limit": limit, "met": met,
            "conditions_met": valid, **({} if valid else {"conditions_not_met": why_not})}


def targets(results: list[dict[str, Any]], peer: dict[str, Any], workers: int) -> list[dict]:
    """The issue's targets, each with its measured value; `conditions_met` is false where the
    run did not match the target's conditions (workers, cache hits), so `met` is indicative."""
    out = []
    for r in results:
        if r.get("skipped"):
            continue
        label = f"{r['configuration']}/{r['scenario']}"
        c = _by_connections(r)
        why = []
        if workers != 2:
            why.append(f"{workers} workers, targets assume 2")
        if r["scenario"] == "cache_hit":
            if not r["setup"].get("cache"):
                why.append("no cache hits in this build")
            out.append(_target(f"{label}: throughput >= 3x peer", _ratio(_best(r), _best(peer)),
                               3.0, True, not why, "; ".join(why)))
            if 1 in c:
                out.append(_target(f"{label}: 1 connection p50 ms", c[1]["latency_ms"]["p50"],
                                   2.0, False, not why, "; ".join(why)))
                out.append(_target(f"{label}: 1 connection p99 ms", c[1]["latency_ms"]["p99"],
                                   5.0, False, not why, "; ".join(why)))
            if 32 in c:
                out.append(_target(f"{label}: 32 connections p99 ms", c[32]["latency_ms"]["p99"],
                                   25.0, False, not why, "; ".join(why)))
        elif r["scenario"] == "cold" and r.get("open_loop"):
            ol = r["open_loop"]
            if not ol["sustained"]:
                why.append("the generator did not sustain its rate")
            out.append(_target(f"{label}: open-loop p99 ms at {ol['target_rate_per_s']:g}/s",
                               ol["latency_ms"].get("p99"), 60.0, False, not why, "; ".join(why)))
    return out


def machine() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines()
                if ln.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "platform": platform.platform(),
            "python": platform.python_version(),
            "versions": {p: version(p) for p in ("lightgbm", "mlflow", "fastapi", "uvicorn")},
            "wrk": _run(["wrk", "--version"]).splitlines()[0] if _run(["wrk", "--version"]) else None,
            "git_commit": _run(["git", "rev-parse", "HEAD"]).strip() or None,
            "git_dirty": bool(_run(["git", "status", "--porcelain", "--untracked-files=no"]).strip())}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _run(args: list[str]) -> str:
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=10,
                           cwd=Path(__file__).resolve().parent)
        return p.stdout or p.stderr
    except (OSError, subprocess.SubprocessError):
        return ""
