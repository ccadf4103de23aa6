"""The background process's loop (app/background.py): each pass at start, then on its own
interval; a failing pass is logged and tried again; SIGTERM's event ends the wait."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from structlog.testing import capture_logs

from app.background import BackgroundPasses, Pass


class Counted:
    def __init__(self, fail: bool = False) -> None:
        self.runs: list[float] = []
        self.fail = fail

    def __call__(self) -> None:
        self.runs.append(time.monotonic())
        if self.fail:
            raise ConnectionError("store down")


def run_for(passes: BackgroundPasses, seconds: float) -> None:
    stop = threading.Event()
    t = threading.Thread(target=passes.run, args=(stop,))
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join(timeout=2)
    assert not t.is_alive()  # the stop ended the wait at once


def test_each_pass_runs_at_start_then_on_its_interval():
    fast, slow = Counted(), Counted()
    run_for(BackgroundPasses([Pass("fast", fast, 0.1), Pass("slow", slow, 10)]), 0.55)
    assert 5 <= len(fast.runs) <= 7
    assert len(slow.runs) == 1


def test_an_interval_of_zero_runs_once():
    once = Counted()
    run_for(BackgroundPasses([Pass("once", once, 0)]), 0.3)
    assert len(once.runs) == 1


def test_a_failing_pass_is_tried_again_and_does_not_stop_the_others():
    failing, other = Counted(fail=True), Counted()
    with capture_logs() as logs:
        run_for(BackgroundPasses([Pass("flaky", failing, 0.1), Pass("other", other, 0.1)]),
                0.35)
    assert len(failing.runs) >= 3 and len(other.runs) >= 3
    assert {"event": "flaky_failed", "error_type": "ConnectionError",
            "log_level": "warning"} in logs


def test_a_pass_is_logged_with_its_numbers():
    @dataclass
    class Result:
        seconds: float = 0.5  # as Freshness has: the log line's own timing must not clash
        pending: int = 3
        checkpoints: dict = field(default_factory=lambda: {"chain": 7})

    with capture_logs() as logs:
        run_for(BackgroundPasses([Pass("counted", Result, 0)]), 0.1)
    [line] = logs
    assert line["event"] == "counted" and line["pending"] == 3 and line["seconds"] == 0.5
    assert "checkpoints" not in line and line["took_s"] >= 0
