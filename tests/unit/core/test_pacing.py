"""core/pacing.py: a background pass takes at most its share of the time."""

import threading
import time

import pytest

from core.pacing import UNPACED, Pacer


def busy(pacer: Pacer, work_s: float) -> float:
    start = time.monotonic()
    done = 0.0
    while done < work_s:
        t = time.monotonic()
        while time.monotonic() - t < 0.0005:  # an item: 0.5 ms of computing
            pass
        done += time.monotonic() - t
        pacer.tick()
    return time.monotonic() - start


def test_a_quarter_share_takes_four_times_as_long_and_frees_the_rest():
    """0.1 s of work at a 25% share spreads over ~0.4 s; meanwhile another thread (the event
    loop) gets most of the GIL: it runs far more often than beside an unpaced pass."""
    def ticks_beside(pacer):
        ticks, stop = [0], threading.Event()

        def loop():
            while not stop.is_set():
                ticks[0] += 1
                time.sleep(0.0005)
        t = threading.Thread(target=loop)
        t.start()
        took = busy(pacer, 0.1)
        stop.set()
        t.join()
        return took, ticks[0] / took

    paced_took, paced_rate = ticks_beside(Pacer(share=0.25))
    unpaced_took, unpaced_rate = ticks_beside(Pacer())
    assert 0.3 < paced_took < 1.0 and unpaced_took < 0.3
    assert paced_rate > 1.5 * unpaced_rate


def test_full_share_never_sleeps_and_a_share_outside_0_1_is_refused():
    assert busy(UNPACED, 0.02) < 0.1 and UNPACED.slept_s == 0
    for share in (0, -1, 1.5):
        with pytest.raises(ValueError):
            Pacer(share=share)
