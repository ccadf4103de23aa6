"""One command: start everything, load the API and the peer, write one JSON report.

    .venv/bin/python -m benchmarks.run --workers 2 --duration 20 --out benchmarks/results/decision.json

Order: prepare a data dir (train once, or reuse --data-dir), write the bodies, start the
simulators; the peer alone, then each (configuration, scenario) of the API alone, each loaded
by a warm-up, closed-loop wrk at every --connections, then the open-loop generator at --rate
(default: half the peer's best closed-loop throughput, the same rate for everyone).
docs/benchmarks.md explains every number.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report, stack
from benchmarks.bodies import decision_body, read_lines, write_bodies
from benchmarks.scenarios import (
    CONFIGURATIONS,
    SCENARIOS,
    Configuration,
    Context,
    Scenario,
    Skip,
    heal,
    missing_settings,
    simulator_calls,
)
from benchmarks.stages import StageProbe
from benchmarks.wrk import run_wrk, wrk_binary


def log(msg: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


class Loader:
    """Drives one target: warm-up, closed loop at each connection count, one open-loop run."""

    def __init__(self, args: argparse.Namespace, authorization: str, run_token: str) -> None:
        self.args = args
        self.authorization = authorization
        self.run_token = run_token

    def measure(self, url: str, bodies: Path, *, label: str, rate: float | None,
                api_base: str | None = None, sims: str | None = None) -> dict[str, Any]:
        decisions = api_base is not None  # decision bodies need unique ids; peer bodies don't
        prefix = (lambda part: f"{self.run_token}-{label}-{part}") if decisions else (lambda _p: None)
        if self.args.warmup > 0:
            run_wrk(url, bodies, connections=8, duration_s=self.args.warmup,
                    authorization=self.authorization, id_prefix=prefix("warm"))
        out: dict[str, Any] = {"url": url, "closed_loop": []}
        for c in self.args.connections:
            log(f"{label}: closed loop, {c} connections, {self.args.duration:g}s")
            out["closed_loop"].append(self._observed(
                lambda c=c: run_wrk(url, bodies, connections=c, duration_s=self.args.duration,
                                    authorization=self.authorization, id_prefix=prefix(f"c{c}")),
                api_base, sims))
        if rate:
            out["open_loop"] = self.open_loop(url, bodies, rate, label=label, api_base=api_base,
                                              sims=sims)
        return out

    def open_loop(self, url: str, bodies: Path, rate: float, *, label: str,
                  api_base: str | None = None, sims: str | None = None) -> dict[str, Any]:
        log(f"{label}: open loop, {rate:g}/s, {self.args.open_duration:g}s")
        prefix = f"{self.run_token}-{label}-open" if api_base else None
        return self._observed(lambda: self._open_loop(url, bodies, rate, prefix), api_base, sims)

    def _observed(self, load, api_base: str | None, sims: str | None) -> dict[str, Any]:
        """Run `load`; for the API add its stage breakdown and the simulator calls it caused."""
        if api_base is None:
            return load()
        calls0 = simulator_calls(sims) if sims else None
        with StageProbe(api_base, self.authorization) as probe:
            result = load()
        result["stages"] = probe.result(result["requests"])
        calls1 = simulator_calls(sims) if sims else None
        if calls0 is not None and calls1 is not None:
            result["simulator_calls"] = {k: calls1[k] - calls0[k] for k in calls1}
        return result

    def _open_loop(self, url: str, bodies: Path, rate: float, prefix: str | None) -> dict:
        args = [sys.executable, "-m", "benchmarks.openloop", "--url", url, "--bodies", str(bodies),
                "--rate", f"{rate:g}", "--duration", f"{self.args.open_duration:g}",
                "--connections", str(self.args.open_connections)]
        if prefix:
            args += ["--id-prefix", prefix]
        env = {**os.environ, "BENCH_AUTHORIZATION": self.authorization}
        p = subprocess.run(args, capture_output=True, text=True, env=env,
                           timeout=self.args.open_duration + 120)
        if p.returncode != 0:
            raise RuntimeError(f"open-loop generator failed: {p.stderr[-2000:]}")
        return json.loads(p.stdout)


def run_api(args, loader: Loader, prepared: stack.Prepared, sims: str, bodies: Path,
            config: Configuration, scenario: Scenario, servers: dict[str, str],
            rate: float | None, run_dir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"configuration": config.name, "scenario": scenario.name,
                              "description": scenario.description}
    reason = scenario.precheck(sims)
    if reason:
        log(f"skip {config.name}/{scenario.name}: {reason}")
        return {**result, "skipped": reason}
    env = {k: v.format(**servers) for k, v in config.env.items()} | scenario.env
    result["env"] = env
    label = f"{config.name}-{scenario.name}"
    log(f"starting API ({config.name}, {args.workers} workers) for {scenario.name}")
    with stack.api(prepared, sims, args.workers, env, run_dir, label) as url:
        tails = read_lines(bodies)
        ctx = Context(sims, url, prepared.authorization,
                      [decision_body(t, f"{loader.run_token}-{label}-prime-{i}")
                       for i, t in enumerate(tails)])
        try:
            result["setup"] = scenario.setup(ctx)
            result.update(loader.measure(f"{url}/v1/decisions", bodies, label=label, rate=rate,
                                         api_base=url, sims=sims))
        except Skip as exc:
            result["skipped"] = str(exc)
        finally:
            heal(sims)
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the decision API against mlflow models serve.")
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers, API and peer")
    p.add_argument("--duration", type=float, default=20, help="seconds per closed-loop point")
    p.add_argument("--open-duration", type=float, help="seconds of open loop (default: --duration)")
    p.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per target")
    p.add_argument("--connections", default="1,8,32", help="closed-loop connection counts")
    p.add_argument("--rate", type=float, help="open-loop requests/s (default: half the peer's best)")
    p.add_argument("--open-connections", type=int, default=64, help="open loop: most in flight")
    p.add_argument("--rows", type=int, default=500, help="distinct applicants in the bodies")
    p.add_argument("--configs", default=",".join(c.name for c in CONFIGURATIONS))
    p.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS))
    p.add_argument("--no-peer", action="store_true", help="skip the peer (no ratios)")
    p.add_argument("--data-dir", type=Path, help="reuse this data dir's model (trained if absent)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/decision.json"))
    args = p.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",") if c]
    args.open_duration = args.open_duration or args.duration
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk_binary()
    configs = [c for c in CONFIGURATIONS if c.name in args.configs.split(",")]
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios.split(",")]
    run_dir = Path(tempfile.mkdtemp(prefix="credit-bench-"))
    log(f"run directory (logs): {run_dir}")
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    prepared = stack.prepare_data_dir(args.data_dir or run_dir / "data", log)
    bodies, peer_bodies = write_bodies(run_dir, args.rows)
    loader = Loader(args, prepared.authorization, secrets.token_hex(3))
    results: list[dict[str, Any]] = []
    peer: dict[str, Any] = {}
    with stack.simulators(run_dir) as sims:
        if not args.no_peer:
            log(f"starting the peer (mlflow models serve, {args.workers} workers)")
            with stack.peer(prepared, args.workers, run_dir) as url:
                peer = {"command": "mlflow models serve --env-manager local",
                        "model_uri": f"models:/{prepared.model_name}/{prepared.version}",
                        **loader.measure(f"{url}/invocations", peer_bodies, label="peer",
                                         rate=None)}
                best_peer = max(p["requests_per_s"] for p in peer["closed_loop"]) \
                    if peer["closed_loop"] else 0
                rate = args.rate or (round(best_peer / 2) or None)
                if rate:
                    peer["open_loop"] = loader.open_loop(f"{url}/invocations", peer_bodies, rate,
                                                         label="peer")
        else:
            rate = args.rate
        for config in configs:
            missing = missing_settings(config.requires_settings)
            if missing:
                reason = f"this build has no setting(s) {', '.join(missing)}"
                log(f"skip configuration {config.name}: {reason}")
                results.append({"configuration": config.name, "skipped": reason})
                continue
            with ExitStack() as servers_stack:
                servers = {}
                if "redis" in config.needs:
                    servers["redis_url"] = servers_stack.enter_context(stack.redis_server(run_dir))
                if "postgres" in config.needs:
                    servers["postgres_url"] = servers_stack.enter_context(stack.postgres_server())
                for scenario in scenarios:
                    try:
                        results.append(run_api(args, loader, prepared, sims, bodies, config,
                                               scenario, servers, rate, run_dir))
                    except (RuntimeError, OSError) as exc:  # one failed target, not the run
                        log(f"{config.name}/{scenario.name} failed: {exc}")
                        results.append({"configuration": config.name, "scenario": scenario.name,
                                        "skipped": f"failed: {exc}"})
    for r in results:
        if peer and not r.get("skipped"):
            r["ratio_to_peer"] = report.ratios(r, peer)
    doc = {
        "benchmark": "credit decision API vs mlflow models serve (bare prediction)",
        "started_at": started.isoformat(), "finished_at": datetime.now(UTC).isoformat(),
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.run", *(argv or sys.argv[1:])]),
        "settings": {"workers": args.workers, "duration_s": args.duration,
                     "open_duration_s": args.open_duration, "warmup_s": args.warmup,
                     "connections": args.connections, "open_loop_rate_per_s": rate,
                     "rows": args.rows},
        "model": {"name": prepared.model_name, "version": prepared.version,
                  "trained_for_this_run": prepared.trained_now},
        "machine": {**report.machine(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "caveats": report.CAVEATS,
        "peer": peer,
        "api": results,
        "targets": report.targets(results, peer, args.workers),
        "logs": str(run_dir),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1))
    log(f"report: {args.out}")


if __name__ == "__main__":
    main()
