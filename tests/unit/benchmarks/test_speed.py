"""benchmarks/speed.py: the host's speed probe and the hypervisor's steal."""

import time

from benchmarks import speed


def test_the_probe_times_the_work_it_runs():
    got = speed.probe(lambda: time.sleep(0.004), repeat=5)
    assert 4.0 <= got["best_ms"] <= got["median_ms"] < 50


def test_the_default_work_takes_measurable_time():
    got = speed.probe(repeat=3)
    assert 0.1 < got["best_ms"] <= got["median_ms"]


def test_steal_is_a_share_of_the_time_between_two_readings():
    assert speed.steal_share((1000, 10), (1200, 60)) == 0.25
    assert speed.steal_share((1000, 10), (1000, 10)) is None  # no time passed: no share
    total, steal = speed.cpu_ticks()
    assert total > 0 and 0 <= steal <= total  # this machine's own /proc/stat
