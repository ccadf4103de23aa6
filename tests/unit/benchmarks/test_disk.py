"""The benchmark's fsync probe, on the real disk of a temporary directory."""

import time

from benchmarks.disk import FsyncProbe


def test_the_probe_times_fsyncs_while_it_runs_and_leaves_no_file(tmp_path):
    with FsyncProbe(tmp_path, interval_s=0.01) as probe:
        time.sleep(0.3)
    result = probe.result()
    assert result["fsyncs"] >= 5
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["over_20_ms"] == sum(1 for x in probe.latencies_ms if x > 20)
    assert not (tmp_path / "fsync-probe.bin").exists()


def test_no_fsync_no_figures(tmp_path):
    assert FsyncProbe(tmp_path).result() == {"fsyncs": 0}
