"""How fast the host is while the benchmark runs: a fixed piece of Python timed, and the
time the hypervisor took from this machine's CPUs (steal).

The same decision path cost 3,087 and 5,700-6,300 µs of CPU a decision on two machines of
the same kind, hours apart (ADR 0163): a virtual machine's CPU is not always as fast.
Absolute targets (the open loop's p99) depend on it; ratios against the peer, measured in
the same rounds, much less.
The probe lets two reports be compared: read them side by side only when their probes agree.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any


def workload() -> None:
    """Interpreter work of the kind the decision path does: dicts, strings, small objects
    (timed with the collector off, as `timeit` runs it)."""
    rows = [{"id": str(i), "amount": i * 1.5, "tags": ("a", str(i % 7))} for i in range(2_000)]
    sorted(rows, key=lambda r: (r["tags"][1], r["id"]))


def probe(work: Callable[[], None] = workload, repeat: int = 15) -> dict[str, float]:
    """ms per run of `work`, best and median of `repeat` runs (~60 ms in all on the slower
    host of ADR 0163): the best is the host's speed, the median adds what else ran."""
    runs = timeit.repeat(work, number=1, repeat=repeat)
    return {"best_ms": round(min(runs) * 1000, 3), "median_ms": round(statistics.median(runs) * 1000, 3)}


def cpu_ticks() -> tuple[int, int]:
    """(all, steal) ticks of every CPU since boot, from the `cpu` line of /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0, 0
    values = [int(v) for v in fields]
    # user .. steal; guest and guest_nice are in user and nice already
    return sum(values[:8]), (values[7] if len(values) > 7 else 0)


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of the CPUs' time the hypervisor gave to others between two readings."""
    total = after[0] - before[0]
    return round((after[1] - before[1]) / total, 4) if total > 0 else None


def reading(label: str) -> dict[str, Any]:
    """A probe, labelled with when in the run it was taken."""
    return {"at": label, **probe()}
