"""The disk's fsync latency while a point is measured.

The audit record is fsynced before each answer, so a stall of the disk is a stall of the
decision. This machine's virtual disk stalls on its own: a probe appending 4 KB and
fsyncing it every 10 ms on the idle machine saw p50 0.48 ms, p99 2.1 ms and stalls of
24-63 ms every few seconds (docs/benchmarks.md). `FsyncProbe` does the same in the data
dir, from a thread of the harness, during each measured point, so that a report's latency
tail can be read beside what the disk did at the time.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

STALL_MS = 20.0


class FsyncProbe:
    def __init__(self, directory: Path, interval_s: float = 0.05) -> None:
        # One fsync every 50 ms: a few hundred in a point, far fewer than the API's own.
        self.path = directory / "fsync-probe.bin"
        self.interval_s = interval_s
        self.latencies_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fsync-probe", daemon=True)

    def __enter__(self) -> FsyncProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while not self._stop.wait(self.interval_s):
                os.write(fd, b"\0" * 4096)
                t = time.perf_counter()
                os.fsync(fd)
                self.latencies_ms.append((time.perf_counter() - t) * 1000)
        finally:
            os.close(fd)
            self.path.unlink(missing_ok=True)

    def result(self) -> dict[str, Any]:
        done = sorted(self.latencies_ms)
        if not done:
            return {"fsyncs": 0}

        def at(q: float) -> float:
            return round(done[min(len(done) - 1, int(q * len(done)))], 3)

        return {"source": f"4 KB append + fsync in the data dir, every "
                          f"{self.interval_s * 1000:g} ms",
                "fsyncs": len(done), "p50_ms": at(0.5), "p99_ms": at(0.99),
                "max_ms": round(done[-1], 3),
                f"over_{STALL_MS:g}_ms": sum(1 for x in done if x > STALL_MS)}
