"""Mutation testing of the code a wrong answer would hurt most: the policy that decides, the
abuse limits, the rollout split, the record's hash and the verifier that proves the log
unaltered. mutmut changes one operator or constant at a time; a mutant no test notices
("survived") is a behaviour nothing checks. Writes JSON: per file killed / survived /
timeout / untested counts, the score, and each survivor's diff.

    .venv/bin/python -m benchmarks.mutation [--only decision/policy.py] [--max-minutes M] [--out FILE]

Runs in a temporary copy of the committed tree (mutmut rewrites the sources it mutates), with
only the unit and integration tests named per target, so a run takes minutes, not hours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# file mutated -> the tests that are meant to pin its behaviour
TARGETS = {
    "decision/policy.py": ["tests/unit/decision/test_policy.py",
                           "tests/unit/decision/test_policy_degraded.py",
                           "tests/unit/decision/test_policy_velocity.py",
                           "tests/unit/decision/test_policy_rules.py",
                           "tests/unit/decision/test_policy_batch.py"],
    "decision/ratelimit.py": ["tests/unit/decision/test_ratelimit.py"],
    "decision/rollout.py": ["tests/unit/decision/test_arms.py"],
    "audit/record.py": ["tests/unit/audit/test_record.py", "tests/unit/audit/test_records.py"],
    "audit/verify.py": ["tests/unit/audit/test_tamper.py", "tests/unit/audit/test_digest.py"],
}
PACKAGES = ["app", "audit", "benchmarks", "core", "decision", "feature_flags", "monitoring",
            "feature_store", "models", "review", "shadow", "sources", "strategy", "training", "tests"]
STATUS = re.compile(r"^\s*(\S+): (\w[\w ]*)$")


def committed_tree(dst: Path) -> None:
    """HEAD's files (what CI would test), not the work tree's."""
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dst, filter="data")


def configure(tree: Path, files: list[str]) -> None:
    tests = sorted({t for f in files for t in TARGETS[f]})
    config = ("\n[tool.mutmut]\n"
              f"source_paths = {json.dumps(files)}\n"
              f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
              f"also_copy = {json.dumps(PACKAGES)}\n")
    with (tree / "pyproject.toml").open("a") as f:
        f.write(config)


def mutmut(tree: Path, *args: str, timeout_s: float | None = None) -> str:
    """Run mutmut in `tree`; past `timeout_s` stop it and its children (what was checked
    by then keeps its status, the rest stays "not checked")."""
    exe = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with subprocess.Popen([str(exe), *args], cwd=tree, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True,
                          start_new_session=True) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    return out


def summarise(tree: Path, files: list[str]) -> dict:
    statuses: dict[str, str] = {}
    for line in mutmut(tree, "results", "--all", "true").splitlines():
        m = STATUS.match(line)
        if m:
            statuses[m.group(1)] = m.group(2)
    out = {}
    for f in files:
        module = f.removesuffix(".py").replace("/", ".")
        mine = {k: v for k, v in statuses.items() if k.startswith(module + ".")}
        counts = {s: sum(v == s for v in mine.values()) for s in
                  ("killed", "survived", "timeout", "no tests", "suspicious", "not checked")}
        tested = len(mine) - counts["no tests"] - counts["not checked"]
        out[f] = {"mutants": len(mine), **counts,
                  "score": round((counts["killed"] + counts["timeout"]) / tested, 3)
                  if tested else None,
                  "survivors": [{"mutant": k, "diff": diff(tree, k)}
                                for k, v in sorted(mine.items()) if v == "survived"]}
    return out


def diff(tree: Path, mutant: str) -> str:
    lines = mutmut(tree, "show", mutant).splitlines()
    return "\n".join(x for x in lines if x[:1] in "+-" and x[:3] not in ("---", "+++"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", action="append", choices=sorted(TARGETS),
                    help="mutate only this file (repeatable)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--max-minutes", type=float,
                    help="stop mutating after this long and report what was checked")
    args = ap.parse_args()
    files = args.only or list(TARGETS)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        tree = Path(tmp)
        committed_tree(tree)
        configure(tree, files)
        t0 = time.perf_counter()
        mutmut(tree, "run", "--max-children", str(args.jobs),
               timeout_s=args.max_minutes * 60 if args.max_minutes else None)
        elapsed = time.perf_counter() - t0
        result = summarise(tree, files)
    killed = sum(r["killed"] + r["timeout"] for r in result.values())
    tested = sum(r["mutants"] - r["no tests"] - r["not checked"] for r in result.values())
    report = {"benchmark": "mutation", "tool": "mutmut " + _version(),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_before": load_before, "load_after": os.getloadavg()},
              "seconds": round(elapsed, 1), "score": round(killed / tested, 3) if tested else None,
              "files": result}
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)


def _version() -> str:
    from importlib.metadata import version

    return version("mutmut")


if __name__ == "__main__":
    main()
