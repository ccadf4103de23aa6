"""Prometheus registry and exposition. One CollectorRegistry per app instance (built by the
builder), so tests and several apps in one process never share counters. Areas add their own
metric groups as small classes that take this registry (decision.metrics.DecisionMetrics,
sources.metrics.DependencyMetrics, shadow.metrics.RolloutMetrics)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.registry import Collector


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "credit_http_requests_total", "HTTP requests by method, route template and status",
            ["method", "route", "status"], registry=registry)


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def exposition(registry: CollectorRegistry, shared: Sequence[Collector] = ()) -> bytes:
    """The text exposition. With several workers (PROMETHEUS_MULTIPROC_DIR set, as
    `credit serve --workers N` does), every worker's values are aggregated from the shared
    directory, so one scrape of any worker sees them all. `shared` collectors read a store
    every worker shares (the review desk's): added as they are, whatever the mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        registry = merged
    out = generate_latest(registry)
    if shared:
        side = CollectorRegistry(auto_describe=False)
        for collector in shared:
            side.register(collector)
        out += generate_latest(side)
    return out
