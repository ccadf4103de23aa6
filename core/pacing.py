"""Background passes (the review catch-up, the monitoring refresh) kept to a share of the
GIL, so that the event loop serving decisions is never starved by them.

A pass in a thread that only computes holds the GIL until the event loop has waited a whole
switch interval (5 ms) for it, at each of the loop's many waits: a pass of a minute's
decisions (a second or more of CPU, in every worker at the same moment) was the open loop's
latency tail (ADR 0149). `Pacer.tick()` between items sleeps, after each `slice_s` of work,
as long as keeps the pass's work to `share` of the time; the GIL goes to the loop meanwhile.
"""

from __future__ import annotations

import time


class Pacer:
    def __init__(self, share: float = 1.0, slice_s: float = 0.002) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.share = share
        self.slice_s = slice_s
        self.slept_s = 0.0
        self._since = time.monotonic()

    def tick(self) -> None:
        if self.share >= 1:
            return
        worked = time.monotonic() - self._since
        if worked >= self.slice_s:
            pause = worked * (1 - self.share) / self.share
            time.sleep(pause)
            self.slept_s += pause
            self._since = time.monotonic()


UNPACED = Pacer()  # a pass someone waits for (a request's catch-up, the CLI): full speed
