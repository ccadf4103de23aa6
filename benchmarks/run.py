"""One command: start everything, load the API and the peer in alternating rounds, write one
JSON report.

    .venv/bin/python -m benchmarks.run --rounds 3 --out benchmarks/results/decision.json

The machine is shared and noisy, so nothing is compared across runs, and within a run the
targets alternate: round 1 peer, API configurations; round 2 the same, starting one target
later (peer last); ... Each target is started afresh in each round and stopped after it;
only the medians over rounds count.

Per round: the peer (`mlflow models serve`, OMP_NUM_THREADS=1, same workers) after a warm-up
at each --peer-connections; then each API (configuration, scenario): prime (one decision per
customer), closed loop at 1 connection right after that (the tail after start), a warm-up,
the other --connections. Every closed-loop point carries the CPU the server's process tree
spent (µs per request). After the rounds, once, on the embedded API: the open loop at
--rate, then --steady-duration seconds at --steady-connections (the tail under steady load).
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
from typing import Any, TypeVar

from benchmarks import report, speed, stack
from benchmarks.bodies import decision_body, read_lines, write_bodies
from benchmarks.loader import Loader, log
from benchmarks.scenarios import (
    CONFIGURATIONS,
    SCENARIOS,
    Configuration,
    Context,
    Scenario,
    Skip,
    code_at,
    heal,
    missing_settings,
)
from benchmarks.threads import py_spy
from benchmarks.wrk import wrk_binary

T = TypeVar("T")


class Run:
    """What every target of the run shares: data dir, bodies, simulators, backing servers."""

    def __init__(self, args: argparse.Namespace, loader: Loader, prepared: stack.Prepared,
                 sims: str, bodies: Path, peer_bodies: Path, run_dir: Path,
                 servers: dict[str, str], server_pids: dict[str, int]) -> None:
        self.args, self.loader, self.prepared, self.sims = args, loader, prepared, sims
        self.bodies, self.peer_bodies, self.run_dir = bodies, peer_bodies, run_dir
        self.servers, self.server_pids = servers, server_pids

    def peer(self, round_no: int) -> dict[str, Any]:
        label = f"peer-r{round_no}"
        log(f"starting the peer (mlflow models serve, {self.args.workers} workers, "
            f"OMP_NUM_THREADS={self.args.peer_omp_threads or 'default'})")
        with stack.peer(self.prepared, self.args.workers, self.run_dir,
                        self.args.peer_omp_threads) as (url, pid):
            target = f"{url}/invocations"
            self.loader.warm(target, self.peer_bodies, label, decisions=False)
            return {"closed_loop": [
                self.loader.closed(target, self.peer_bodies, c, label=label, roots=[pid])
                for c in self.args.peer_connections]}

    def api(self, config: Configuration, scenario: Scenario, round_no: int,
            phases: str = "rounds") -> dict[str, Any]:
        result: dict[str, Any] = {}
        reason = scenario.precheck(self.sims)
        if reason:
            log(f"skip {config.name}/{scenario.name}: {reason}")
            return {"skipped": reason}
        env = {k: v.format(**self.servers) for k, v in config.env.items()} | scenario.env
        result["env"] = env
        label = f"{config.name}-{scenario.name}-r{round_no}" if phases == "rounds" \
            else f"{config.name}-{scenario.name}-{phases}"
        log(f"starting API ({config.name}, {self.args.workers} workers) for {scenario.name}")
        with stack.api_process(self.prepared, self.sims, self.args.workers, env, self.run_dir,
                               label, config.server, config.passes) as (url, pids):
            roots = pids + [self.server_pids[n] for n in config.needs if n in self.server_pids]
            tails = read_lines(self.bodies)
            ctx = Context(self.sims, url, self.prepared.authorization,
                          [decision_body(t, f"{self.loader.run_token}-{label}-prime-{i}")
                           for i, t in enumerate(tails)])
            target = f"{url}/v1/decisions"
            try:
                result["setup"] = scenario.setup(ctx)
                if phases == "rounds":
                    result["closed_loop"] = self._api_rounds(target, url, label, roots)
                else:
                    result.update(self._api_once(target, url, label, roots, phases))
            except Skip as exc:
                result["skipped"] = str(exc)
            finally:
                heal(self.sims)
        return result

    def _api_rounds(self, target: str, url: str, label: str, roots: list[int]) -> list[dict]:
        points = []
        conns = self.args.connections
        # One connection first: right after start (and priming), before any warm-up, so a
        # tail of the first minute (cold caches, pollers starting, first fsyncs) shows here.
        if 1 in conns:
            points.append(self.loader.closed(target, self.bodies, 1, label=label, roots=roots,
                                             api_base=url, sims=self.sims))
        self.loader.warm(target, self.bodies, label, decisions=True)
        points += [self.loader.closed(target, self.bodies, c, label=label, roots=roots,
                                      api_base=url, sims=self.sims) for c in conns if c != 1]
        return points

    def _api_once(self, target: str, url: str, label: str, roots: list[int],
                  phases: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.loader.warm(target, self.bodies, label, decisions=True)
        if phases == "profile":
            out["profile"] = self._profile(target, url, label, roots)
            return out
        # The steady run first: an open loop above what the machine carries is an overload
        # whose queue takes a while to drain; each is recorded even if the other fails.
        if self.args.steady_duration > 0:
            out["steady"] = _guarded(lambda: self.loader.closed(
                target, self.bodies, self.args.steady_connections, label=label, roots=roots,
                api_base=url, sims=self.sims, duration_s=self.args.steady_duration,
                remeasure=False), "steady")  # once, 5 minutes: its spread is recorded
        if self.args.rate:
            out["speed_before_open_loop"] = speed.probe()  # the most host-bound target
            out["open_loop"] = _guarded(lambda: self.loader.open_loop(
                target, self.bodies, self.args.rate, label=label, roots=roots, api_base=url,
                sims=self.sims), "open loop")
        return out

    def _profile(self, target: str, url: str, label: str, roots: list[int]) -> dict[str, Any]:
        """py-spy over every worker during a closed-loop load at the highest connection count;
        one flame graph (SVG) in --profile-dir. Not a measured point: sampling costs CPU."""
        out_dir = self.args.profile_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        fmt = self.args.profile_format
        svg = out_dir / f"flame-{label}.{'svg' if fmt == 'flamegraph' else 'txt'}"
        c = max(self.args.connections)
        seconds = max(5, round(self.args.duration))
        spy = subprocess.Popen([py_spy(), "record", "--pid", str(roots[0]), "--subprocesses",
                                "--duration", str(seconds), "--rate", "200",
                                # native stacks need the process paused while sampled
                                *(["--native"] if self.args.profile_native
                                  else ["--nonblocking"]),
                                *(["--gil"] if self.args.profile_gil else []),
                                "--format", fmt, "--output", str(svg)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        point = self.loader.closed(target, self.bodies, c, label=f"{label}-profiled",
                                   roots=roots, api_base=url, sims=self.sims,
                                   duration_s=seconds)
        _, err = spy.communicate(timeout=seconds + 60)
        return {"flame_graph": str(svg), "py_spy_exit": spy.returncode,
                "py_spy_stderr": err.decode(errors="replace")[-500:],
                "load_while_profiling": point}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the decision API against mlflow models serve.")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians count)")
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers, API and peer")
    p.add_argument("--duration", type=float, default=10, help="seconds per closed-loop point")
    p.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per target")
    p.add_argument("--connections", default="1,8,32", help="API closed-loop connection counts")
    p.add_argument("--peer-connections", default="8,32", help="peer closed-loop connections")
    p.add_argument("--peer-omp-threads", type=int, default=1,
                   help="OMP_NUM_THREADS of the peer; 0: LightGBM's default (a thread per core)")
    p.add_argument("--rate", type=float, default=300, help="open-loop decisions/s (0: none)")
    p.add_argument("--open-duration", type=float, default=30, help="seconds of open loop")
    p.add_argument("--open-connections", type=int, default=64, help="open loop: most in flight")
    p.add_argument("--steady-duration", type=float, default=300,
                   help="seconds of the steady closed-loop run after the rounds (0: none)")
    p.add_argument("--steady-connections", type=int, default=4)
    p.add_argument("--rows", type=int, default=500, help="distinct applicants in the bodies")
    p.add_argument("--configs", default="embedded,redis", help="API configurations per round; "
                   "of " + ",".join(c.name for c in CONFIGURATIONS))
    p.add_argument("--scenarios", default="cache_hit",
                   help="of " + ",".join(s.name for s in SCENARIOS))
    p.add_argument("--no-peer", action="store_true", help="skip the peer (no ratios)")
    p.add_argument("--code-ref", action="append", default=[], metavar="GITREF",
                   help="also run the embedded API at this commit (A/B of a change, in the "
                        "same alternating rounds); repeatable")
    p.add_argument("--profile-dir", type=Path,
                   help="also record a py-spy flame graph of each configuration under load")
    p.add_argument("--profile-format", choices=("flamegraph", "raw"), default="flamegraph",
                   help="raw: py-spy's collapsed stacks (one line per stack), to aggregate")
    p.add_argument("--profile-gil", action="store_true",
                   help="sample only the thread holding the GIL: where Python's CPU goes")
    p.add_argument("--profile-native", action="store_true",
                   help="include native (C) frames: time in SQLite, LightGBM, the kernel")
    p.add_argument("--data-dir", type=Path, help="reuse this data dir's model (trained if absent)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/decision.json"))
    args = p.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",") if c]
    args.peer_connections = [int(c) for c in args.peer_connections.split(",") if c]
    args.peer_omp_threads = args.peer_omp_threads or None
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk_binary()
    # In the order given: the phase after the rounds runs them in that order.
    known = {c.name: c for c in CONFIGURATIONS}
    configs = [known[n] for n in args.configs.split(",") if n in known]
    configs += [code_at(ref, c) for ref in args.code_ref for c in configs]
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios.split(",")]
    run_dir = Path(tempfile.mkdtemp(prefix="credit-bench-"))
    log(f"run directory (logs): {run_dir}")
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    ticks_before, speeds = speed.cpu_ticks(), [speed.reading("start")]
    prepared = stack.prepare_data_dir(args.data_dir or run_dir / "data", log)
    bodies, peer_bodies = write_bodies(run_dir, args.rows)
    loader = Loader(args, prepared.authorization, secrets.token_hex(3), prepared.data_dir)
    rounds: list[dict[str, Any]] = []
    once: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    with stack.simulators(run_dir) as sims, ExitStack() as backing:
        servers: dict[str, str] = {}
        pids: dict[str, int] = {}
        runnable = []
        for config in configs:
            missing = missing_settings(config.requires_settings)
            if missing:
                skipped[config.name] = f"this build has no setting(s) {', '.join(missing)}"
                log(f"skip configuration {config.name}: {skipped[config.name]}")
                continue
            runnable.append(config)
            if "redis" in config.needs and "redis" not in pids:
                servers["redis_url"], pids["redis"] = backing.enter_context(
                    stack.redis_server(run_dir))
            if "postgres" in config.needs and "postgres" not in pids:
                servers["postgres_url"], pids["postgres"] = backing.enter_context(
                    stack.postgres_server())
        run = Run(args, loader, prepared, sims, bodies, peer_bodies, run_dir, servers, pids)
        for n in range(1, args.rounds + 1):
            log(f"round {n} of {args.rounds}")
            round_ticks = speed.cpu_ticks()
            entry: dict[str, Any] = {"round": n, "load_average_before": os.getloadavg(),
                                     "speed_before": speed.probe(), "targets": {}}
            targets = ([] if args.no_peer else [("peer", lambda n=n: run.peer(n))]) + [
                (f"{c.name}/{s.name}", lambda c=c, s=s, n=n: run.api(c, s, n))
                for c in runnable for s in scenarios]
            for name, measure in in_turn(targets, n):
                entry["targets"][name] = _guarded(measure, name)
            entry["load_average_after"] = os.getloadavg()
            entry["steal_share"] = speed.steal_share(round_ticks, speed.cpu_ticks())
            rounds.append(entry)
        speeds.append(speed.reading("after the rounds"))
        # The embedded default and its variants (another commit, the passes in the workers),
        # in the order given: an A/B of the steady run and the open loop, not alternating.
        cache_hit = next((s for s in SCENARIOS if s.name == "cache_hit"), None)
        for c in runnable:
            if c.name.startswith("embedded") and cache_hit and (args.rate or
                                                               args.steady_duration > 0):
                log(f"after the rounds: open loop and steady load, {c.name}/cache_hit")
                once[f"{c.name}/cache_hit"] = _guarded(
                    lambda c=c: run.api(c, cache_hit, 0, phases="steady"), "steady")
        if args.profile_dir:
            for config in runnable:
                once[f"{config.name}/cache_hit profile"] = _guarded(
                    lambda c=config: run.api(c, cache_hit, 0, phases="profile"), "profile")
    speeds.append(speed.reading("end"))
    summary = report.summarize(rounds)
    doc = {
        "benchmark": "credit decision API (whole governed decision) vs mlflow models serve "
                     "(bare prediction), alternating rounds",
        "started_at": started.isoformat(), "finished_at": datetime.now(UTC).isoformat(),
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.run",
                             *(argv if argv is not None else sys.argv[1:])]),
        "settings": {"rounds": args.rounds, "workers": args.workers,
                     "duration_s": args.duration, "warmup_s": args.warmup,
                     "connections": args.connections, "peer_connections": args.peer_connections,
                     "peer_omp_num_threads": args.peer_omp_threads or "default",
                     "open_loop_rate_per_s": args.rate, "open_duration_s": args.open_duration,
                     "steady_duration_s": args.steady_duration,
                     "steady_connections": args.steady_connections, "rows": args.rows},
        "model": {"name": prepared.model_name, "version": prepared.version,
                  "trained_for_this_run": prepared.trained_now},
        "machine": {**report.machine(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg(), "speed": speeds,
                    "steal_share": speed.steal_share(ticks_before, speed.cpu_ticks())},
        "caveats": report.CAVEATS,
        "medians": summary,
        "after_rounds": once,
        "targets": report.targets(summary, once, args.workers),
        "skipped_configurations": skipped,
        "rounds": rounds,
        "logs": str(run_dir),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1))
    log(f"report: {args.out}")
    print(json.dumps({"medians": summary, "targets": doc["targets"]}, indent=1))


def in_turn(targets: list[T], n: int) -> list[T]:
    """Round n's order: each round starts one target later, so no target always runs first
    after a pause, or right after the same other one (which leaves the disk writing back its
    files and its caches warm or cold): a fixed order would bias the medians."""
    k = (n - 1) % len(targets) if targets else 0
    return targets[k:] + targets[:k]


def _guarded(measure, name: str) -> dict[str, Any]:
    try:
        return measure()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:  # one target, not the run
        log(f"{name} failed: {exc}")
        return {"skipped": f"failed: {exc}"}


if __name__ == "__main__":
    main()
