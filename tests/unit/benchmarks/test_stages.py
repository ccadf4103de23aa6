"""The benchmark's stage breakdown: diffs of real prometheus_client histograms."""

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from benchmarks.stages import STAGE_METRIC, diff, parse, quantile_ms
from sources.metrics import LATENCY_BUCKETS


def _histogram():
    registry = CollectorRegistry()
    h = Histogram(STAGE_METRIC, "stages", ["stage"], buckets=LATENCY_BUCKETS, registry=registry)
    return registry, h


def test_diff_counts_only_observations_between_scrapes():
    """Observations before the first scrape are not in the diff; count, mean and p50 are."""
    registry, h = _histogram()
    h.labels("total").observe(0.2)  # before: must not count
    before = parse(generate_latest(registry).decode())
    for _ in range(99):
        h.labels("total").observe(0.0015)
    h.labels("total").observe(0.02)
    h.labels("rules").observe(0.0001)
    stages = diff(before, parse(generate_latest(registry).decode()))
    assert stages["total"]["count"] == 100
    assert abs(stages["total"]["mean_ms"] - (99 * 1.5 + 20) / 100) < 1e-6
    assert 1.0 <= stages["total"]["p50_ms"] <= 2.0  # inside the (1, 2] ms bucket
    assert stages["rules"]["count"] == 1


def test_quantile_past_the_last_bucket_is_unknown():
    """A quantile landing in +Inf has no upper bound: None, not a made-up number."""
    assert quantile_ms({0.001: 0.0, float("inf"): 10.0}, 0.5) is None
    assert quantile_ms({0.001: 10.0, float("inf"): 10.0}, 0.5) == 0.5
