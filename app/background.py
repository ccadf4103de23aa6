"""The background passes in a process of their own: `credit background`, which `credit serve`
starts beside its workers (CREDIT_BACKGROUND_PASSES=process).

Both passes read the audit log beyond their checkpoints: the review catch-up (every referral
has its case, every human action its effect, after any crash) and the monitoring refresh
(the read model the reports and gauges use). In a worker, their Python work took the GIL
from the event loop serving decisions, paced or not: the open loop's p99 was 119 ms with
them and 16 ms without (ADR 0157). Here they run unpaced, at the niceness the launcher
gave the process, so the kernel runs the workers first. Both are idempotent and safe against
a second process doing the same, so a restart or a second host only repeats reads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

_log = structlog.get_logger("credit.background")


@dataclass
class Pass:
    name: str
    run: Callable[[], object]
    interval_s: float  # between runs; 0: the first run only
    due: float = 0.0  # time.monotonic() of the first run (0: at start)


class BackgroundPasses:
    def __init__(self, passes: list[Pass]) -> None:
        self.passes = passes

    def run_due(self) -> float:
        """Runs the passes that are due, one after the other; the seconds until the next."""
        for p in self.passes:
            if p.due > time.monotonic():
                continue
            t0 = time.monotonic()
            try:
                result = p.run()
                _log.info(p.name, took_s=round(time.monotonic() - t0, 3), **_summary(result))
            except Exception as exc:  # noqa: BLE001 - logged; the next pass tries again
                _log.warning(f"{p.name}_failed", error_type=type(exc).__name__)
            p.due = time.monotonic() + p.interval_s if p.interval_s > 0 else math.inf
        return min(p.due for p in self.passes) - time.monotonic()

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set (SIGTERM): a pass under way finishes first."""
        while not stop.is_set():
            wait = self.run_due()
            if stop.wait(None if wait == math.inf else max(0.0, wait)):
                return


def _summary(result: object) -> dict[str, object]:
    # CatchUp and Freshness are dataclasses of counts: their numbers, not the checkpoints.
    return {k: v for k, v in getattr(result, "__dict__", {}).items() if not isinstance(v, dict)}
