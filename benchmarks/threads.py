"""A server's CPU by thread, under the names Python gives its threads.

The kernel counts each thread's CPU (/proc/<pid>/task/<tid>/stat), but Python 3.11 does not
hand its thread names to the kernel: every thread of a worker is named after the process.
py-spy reads the names out of the interpreter, each beside its native thread id, so the two
together say what the event loop, the store threads, the review projector... each cost per
decision. Threads of one kind (a pool's `store_0`, `store_1`...) are summed; a thread Python
does not know (a library's native thread) keeps the kernel's name; a process that is not
Python's (redis-server) is counted whole under its own. A thread born during the load counts
whole; one that ended takes its counters with it (the servers' threads live as long as they).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.cpu import TICK_S, stat_fields, ticks, tree_ticks

_THREAD = re.compile(r'^Thread (?:0x[0-9a-fA-F]+|(\d+)) \([^)]*\): "(.*)"$', re.MULTILINE)
_NUMBERED = re.compile(r"_\d+$")


def py_spy() -> str:
    """py-spy on PATH, else the one installed beside this Python (a benchmark dependency)."""
    return shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))


def task_ticks(pid: int) -> dict[int, tuple[int, int, int, int]]:
    """tid -> (utime, stime, voluntary, involuntary context switches) of each thread of
    `pid`. A voluntary switch is a thread going to sleep (waiting for the GIL, a futex, a
    socket, the disk): each hop of work between threads costs a pair of them."""
    out = {}
    try:
        tids = [int(p.name) for p in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:  # exited meanwhile
        return out
    for tid in tids:
        fields = stat_fields(f"/proc/{pid}/task/{tid}/stat")
        switches = _switches(f"/proc/{pid}/task/{tid}/status")
        if fields is not None and switches is not None:
            out[tid] = (*ticks(fields), *switches)
    return out


def _switches(path: str) -> tuple[int, int] | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    counts = dict(line.split(":", 1) for line in lines if "ctxt_switches:" in line)
    return int(counts["voluntary_ctxt_switches"]), int(counts["nonvoluntary_ctxt_switches"])


def python_names(pid: int) -> dict[int, str]:
    """Native thread id -> Python's name of the thread, for each thread of a Python process;
    empty for any other process (py-spy finds no interpreter)."""
    try:
        dump = subprocess.run([py_spy(), "dump", "--pid", str(pid), "--nonblocking"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {int(tid): name for tid, name in _THREAD.findall(dump.stdout) if tid}


def _kernel_name(pid: int, tid: int | None = None) -> str:
    path = f"/proc/{pid}/task/{tid}/comm" if tid else f"/proc/{pid}/comm"
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "?"


def kind(name: str) -> str:
    """A pool's numbered threads are one kind: `store_3` -> `store`."""
    return _NUMBERED.sub("", name)


class ThreadMeter:
    """`start()` before a load, `stop(requests)` after: µs of CPU per request by kind of
    thread, summed over every process under `roots`."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots

    def _snapshot(self) -> dict[int, dict[int, tuple[int, int, int, int]]]:
        return {pid: task_ticks(pid) for pid in tree_ticks(self.roots)}

    def start(self) -> ThreadMeter:
        self.before = self._snapshot()
        return self

    def stop(self, requests: int) -> dict[str, Any]:
        after = self._snapshot()
        by_kind: dict[str, list[int]] = {}
        for pid, tasks in after.items():
            names = python_names(pid)
            for tid, now in tasks.items():
                then = self.before.get(pid, {}).get(tid, (0, 0, 0, 0))  # born since: all of it
                if tid in names:
                    name = kind(names[tid])
                elif names:
                    name = f"native:{_kernel_name(pid, tid)}"
                else:
                    name = f"process:{_kernel_name(pid)}"
                totals = by_kind.setdefault(name, [0, 0, 0, 0, 0])
                for i, (a, b) in enumerate(zip(now, then, strict=True)):
                    totals[i] += a - b
                totals[4] += 1
        per = (TICK_S * 1e6 / requests) if requests else 0.0
        each = 1 / requests if requests else 0.0
        ranked = sorted(by_kind.items(), key=lambda kv: -sum(kv[1][:2]))
        return {
            "source": "/proc/<pid>/task/<tid>/stat and status, named by py-spy dump",
            "us_per_request": {
                name: {"user": round(u * per, 1), "system": round(s * per, 1), "threads": n}
                for name, (u, s, _, _, n) in ranked if u + s},
            "switches_per_request": {
                name: {"voluntary": round(v * each, 2), "involuntary": round(i * each, 2)}
                for name, (_, _, v, i, _) in ranked if v + i},
        }
