"""CPU time the servers spent, from the kernel's own per-process counters (Linux /proc).

A server's process tree (uvicorn's supervisor and workers; `mlflow models serve`, its
uvicorn and workers; redis-server; the postmaster and its backends) is its root pid and
every descendant by parent pid. utime + stime of each, read before and after a load, give
the CPU it cost; divided by the requests answered: µs of CPU per request, the figure that
decides how many machines a given traffic needs. A process that exits during the load loses
its ticks (none do here; a PostgreSQL backend might).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def stat_fields(path: str) -> list[str] | None:
    """The fields of a `/proc/<pid>/stat` (or `/proc/<pid>/task/<tid>/stat`) after the
    command name; None once the process or thread has exited."""
    try:
        raw = Path(path).read_text()
    except OSError:  # exited meanwhile
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return raw[raw.rindex(")") + 2:].split()


def ticks(fields: list[str]) -> tuple[int, int]:
    return int(fields[11]), int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))


def minor_faults(fields: list[str]) -> int:
    # Field 10 of stat(5): a page touched for the first time since it was mapped. Memory the
    # allocator hands back to the kernel and maps again shows here, as system time.
    return int(fields[7])


def tree_ticks(roots: list[int]) -> dict[int, tuple[int, int]]:
    """pid -> (utime, stime) ticks of every process under (and including) `roots`."""
    return {pid: ticks(f) for pid, f in tree_stats(roots).items()}


def tree_stats(roots: list[int]) -> dict[int, list[str]]:
    """pid -> the stat fields of every process under (and including) `roots`."""
    stats: dict[int, list[str]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            f = stat_fields(f"/proc/{entry.name}/stat")
            if f is not None:
                stats[int(entry.name)] = f
    children: dict[int, list[int]] = {}
    for pid, f in stats.items():
        children.setdefault(int(f[1]), []).append(pid)  # field 4: parent pid
    out, todo = {}, [r for r in roots if r in stats]
    while todo:
        pid = todo.pop()
        out[pid] = stats[pid]
        todo.extend(children.get(pid, ()))
    return out


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, already counted in user
    return total - idle, total


@dataclass
class CpuMeter:
    """Snapshot with `start()`, again with `stop(requests)`; sums every process of the
    trees under `roots`."""
    roots: list[int] = field(default_factory=list)

    def _snapshot(self) -> dict[int, list[str]]:
        return tree_stats(self.roots)

    def start(self) -> CpuMeter:
        self.before = self._snapshot()
        self.machine_before = machine_busy_ticks()
        self.load_before = os.getloadavg()
        return self

    def stop(self, requests: int) -> dict[str, Any]:
        after = self._snapshot()
        busy1, total1 = machine_busy_ticks()
        busy0, total0 = self.machine_before
        # Only processes seen at both ends (one that started during the load is not counted
        # whole, so it would be under-counted anyway; none do).
        pairs = [(self.before[p], f) for p, f in after.items() if p in self.before]

        def grown(counter: Callable[[list[str]], int]) -> int:
            return sum(counter(end) - counter(start) for start, end in pairs)

        user, system = grown(lambda f: ticks(f)[0]), grown(lambda f: ticks(f)[1])
        faults = grown(minor_faults)
        cpu_s = (user + system) * TICK_S
        return {
            "source": "/proc/<pid>/stat utime+stime of the server's process tree",
            "processes": len(after),
            "server_cpu_s": round(cpu_s, 3),
            "cpu_us_per_request": round(cpu_s * 1e6 / requests, 1) if requests else None,
            # The kernel's part (system calls: sockets, file writes, fsync, thread wake-ups).
            "system_share": round(system / (user + system), 3) if user + system else None,
            "minor_faults_per_request": round(faults / requests, 1) if requests else None,
            # What the whole machine did meanwhile (load generator, other users included).
            "machine_busy_share": round((busy1 - busy0) / (total1 - total0), 3)
            if total1 > total0 else None,
            "load_average_before": [round(x, 2) for x in self.load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        }
