"""`credit background`: the background passes in a process of their own (app/background.py),
and the launcher with which `credit serve` keeps one running beside its workers."""

from __future__ import annotations

import os
import signal
import subprocess  # nosec B404
import sys
import threading
import time

from app.background import BackgroundPasses, Pass
from app.cli.common import built, console, die_with_parent
from app.logging import configure_logging
from app.settings import Settings


def background() -> None:
    """Run the background passes (review catch-up, monitoring refresh) until SIGTERM. `credit
    serve` starts one beside its workers; start one per host yourself if you run the API
    another way with CREDIT_BACKGROUND_PASSES=process."""
    threading.current_thread().name = "background"  # not a worker's event loop, in profiles
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with built() as b:  # builds nothing yet: each part on first use
        s = b.settings
        configure_logging(s.log_level)
        lower_priority(s)
        passes = [Pass("review_catch_up", b.review_projector().catch_up,
                       s.review_sync_interval_s)]
        if s.monitoring_refresh_s > 0:  # first after an interval, as in the workers: a
            # restart's backlog is not urgent, and at once it competes with the new workers
            passes.append(Pass("monitoring_refresh", b.monitor.refresh, s.monitoring_refresh_s,
                               due=time.monotonic() + s.monitoring_refresh_s))
        BackgroundPasses(passes).run(stop)


def lower_priority(settings: Settings) -> None:
    """So that the kernel runs the API's workers first (ADR 0157)."""
    if settings.background_sched_idle:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:
        os.nice(settings.background_nice)


class Launched:
    """`credit background` beside `credit serve`'s workers, started again `restart_s` after it
    exits, ended with the API (and by the kernel if `credit serve` is killed)."""

    def __init__(self, restart_s: float = 5.0) -> None:
        self.restart_s = restart_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._keep, name="background", daemon=True)

    def _keep(self) -> None:
        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                self._proc = subprocess.Popen(  # nosec B603 - our own CLI, fixed arguments
                    [sys.executable, "-m", "app.cli", "background"],
                    # The parent is this launcher's thread, alive until stop().
                    preexec_fn=die_with_parent)  # noqa: PLW1509
            code = self._proc.wait()
            if self._stop.wait(self.restart_s):
                return
            console.print(f"[red]background passes exited with code {code}: started again[/]")

    def start(self) -> Launched:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        with self._lock:
            self._stop.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()  # a pass under way finishes first
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._thread.join(timeout_s)
