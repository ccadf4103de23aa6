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
    "approximate). Compare the API with the peer only within one report: only medians of "
    "the alternating rounds count. CPU per request is the server's process tree (and its "
    "redis-server or PostgreSQL), from /proc, not the load generator's.")


def _median(values: list[float]) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _ratio(x: float | None, y: float | None) -> float | None:
    return round(x / y, 2) if x is not None and y else None


def _errors(point: dict[str, Any]) -> int:
    return int(point["errors"]["non_2xx"]) + int(point["errors"]["socket"])


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per target and connection count: each round's figures and their median; per API
    target, the ratio of its median requests/s to the peer's (and each round's ratio)."""
    per: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for r in rounds:
        for name, result in r["targets"].items():
            for point in result.get("closed_loop", []):
                per.setdefault(name, {}).setdefault(point["connections"], []).append(point)
    out: dict[str, Any] = {}
    for name, by_c in per.items():
        out[name] = {}
        for c, points in sorted(by_c.items()):
            fig = {"requests_per_s": [p["requests_per_s"] for p in points],
                   "p50_ms": [p["latency_ms"]["p50"] for p in points],
                   "p99_ms": [p["latency_ms"]["p99"] for p in points],
                   "cpu_us_per_request": [p["cpu"]["cpu_us_per_request"] for p in points]}
            out[name][str(c)] = {
                "rounds": len(points),
                "median": {k: _median(v) for k, v in fig.items()},
                "per_round": fig,
                "errors": sum(_errors(p) for p in points),
                # measured again: a worker had got too few connections (ADR 0155)
                "remeasured_points": sum(bool(p.get("remeasured_after")) for p in points)}
    peer = out.get("peer", {})
    for name, by_c in out.items():
        if name == "peer":
            continue
        for c, fig in by_c.items():
            if c not in peer:
                continue
            p = peer[c]
            fig["ratio_to_peer"] = {
                "requests_per_s": _ratio(fig["median"]["requests_per_s"],
                                         p["median"]["requests_per_s"]),
                "cpu_us_per_request": _ratio(fig["median"]["cpu_us_per_request"],
                                             p["median"]["cpu_us_per_request"]),
                "requests_per_s_per_round": [
                    _ratio(a, b) for a, b in zip(fig["per_round"]["requests_per_s"],
                                                 p["per_round"]["requests_per_s"], strict=False)]}
    return out


def _target(name: str, measured: float | None, limit: float, at_least: bool,
            valid: bool = True, why_not: str = "") -> dict[str, Any]:
    met = None if measured is None else (measured >= limit if at_least else measured <= limit)
    return {"target": name, "measured": measured, "limit": limit, "met": met,
            "conditions_met": valid, **({} if valid else {"conditions_not_met": why_not})}


def targets(summary: dict[str, Any], once: dict[str, Any], workers: int) -> list[dict]:
    """The performance issue's "done when" (issue 20), each with its measured median;
    `conditions_met` is false where the run did not match the target's conditions."""
    out: list[dict[str, Any]] = []
    why = "" if workers == 2 else f"{workers} workers, targets assume 2"
    ours = summary.get("embedded/cache_hit", {})
    for c in ("8", "32"):
        if c in ours and "ratio_to_peer" in ours[c]:
            out.append(_target(f"embedded: requests/s at {c} connections / peer's (median)",
                               ours[c]["ratio_to_peer"]["requests_per_s"], 2.0, True,
                               not why, why))
            out.append(_target(f"embedded: errors at {c} connections, all rounds",
                               ours[c]["errors"], 0, False))
    if "1" in ours:
        out.append(_target("embedded: 1 connection p99 ms (median)",
                           ours["1"]["median"]["p99_ms"], 10.0, False, not why, why))
    redis = summary.get("redis/cache_hit", {})
    if "8" in redis and "8" in ours:
        out.append(_target("redis: requests/s at 8 connections / embedded's (median)",
                           _ratio(redis["8"]["median"]["requests_per_s"],
                                  ours["8"]["median"]["requests_per_s"]), 1.0, True))
    after = once.get("embedded/cache_hit", {})
    steady = after.get("steady")
    if steady and not steady.get("skipped"):
        lat = steady["latency_ms"]
        short = steady["duration_s"] < 299
        out.append(_target(f"steady {steady['connections']} connections, "
                           f"{steady['duration_s']:g} s: p99 / p50",
                           _ratio(lat["p99"], lat["p50"]), 5.0, False, not short,
                           "shorter than the 5 minutes of the target"))
    ol = after.get("open_loop")
    if ol and ol.get("skipped"):
        out.append({"target": "open loop: p99 ms", "measured": None, "limit": 25.0,
                    "met": False, "conditions_met": False, "conditions_not_met": ol["skipped"]})
    elif ol:
        out.append(_target(f"open loop {ol['target_rate_per_s']:g}/s: p99 ms",
                           ol["latency_ms"].get("p99"), 25.0, False,
                           ol["sustained"] and ol["target_rate_per_s"] >= 300,
                           "; ".join(ol["problems"]) or "rate below 300/s"))
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
