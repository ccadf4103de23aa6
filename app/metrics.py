"""Prometheus metrics. One CollectorRegistry per app instance (built in bootstrap), so tests
and several apps in one process never share counters. Areas add their own metric groups as
small classes that take this registry (see DecisionMetrics)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

# Seconds; decisions are expected in milliseconds, degraded ones near the deadline.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class DecisionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "credit_decisions_total", "Decisions made, by outcome, country and deciding arm",
            ["outcome", "country", "decided_by"], registry=registry)
        self.stage_seconds = Histogram(
            "credit_decision_stage_seconds", "Latency of each stage of the decision path",
            ["stage"], buckets=LATENCY_BUCKETS, registry=registry)
        self.audit_failures = Counter(
            "credit_audit_failures_total", "Decisions refused (503) because the audit log failed",
            registry=registry)
        self.http_requests = Counter(
            "credit_http_requests_total", "HTTP requests by method, route template and status",
            ["method", "route", "status"], registry=registry)


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def exposition(registry: CollectorRegistry) -> bytes:
    """The text exposition. With several workers (PROMETHEUS_MULTIPROC_DIR set, as
    `credit serve --workers N` does), every worker's values are aggregated from the shared
    directory, so one scrape of any worker sees them all."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)
    return generate_latest(registry)
