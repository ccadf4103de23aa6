"""The background process's loop (app/background.py): each pass at start, then on its own
interval; a failing pass is logged and tried again; SIGTERM's event ends the wait."""

from __future__ import annotations

import threading
import time

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


def test_a_failing_pass_is_tried_again_and_does_not_stop_the_others(capsys):
    failing, other = Counted(fail=True), Counted()
    run_for(BackgroundPasses([Pass("flaky", failing, 0.1), Pass("other", other, 0.1)]), 0.35)
    assert len(failing.runs) >= 3 and len(other.runs) >= 3
    assert "flaky_failed" in capsys.readouterr().out
