"""Metrics of the enrichment dependencies: calls by outcome, latency, breaker state."""

from __future__ import annotations

import pybreaker
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds; decisions are expected in milliseconds, degraded ones near the deadline.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

BREAKER_STATE_CODE = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1,
                      pybreaker.STATE_OPEN: 2}


class DependencyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "credit_dependency_calls_total",
            "Calls to an enrichment dependency (one per attempt), by outcome: ok, timeout, "
            "unreachable, server_error, rejected, malformed, circuit_open",
            ["dependency", "outcome"], registry=registry)
        self.latency = Histogram(
            "credit_dependency_call_seconds", "Latency of one attempt at a dependency",
            ["dependency", "outcome"], buckets=LATENCY_BUCKETS, registry=registry)
        self.retries = Counter(
            "credit_dependency_retries_total", "Attempts after the first, per dependency",
            ["dependency"], registry=registry)
        self.breaker_state = Gauge(
            "credit_dependency_breaker_state",
            "Circuit breaker state as this process sees it: 0 closed, 1 half-open, 2 open",
            ["dependency"], registry=registry)

    def observe(self, dependency: str, outcome: str, seconds: float) -> None:
        self.calls.labels(dependency, outcome).inc()
        self.latency.labels(dependency, outcome).observe(seconds)

    def set_breaker_state(self, dependency: str, state: str) -> None:
        self.breaker_state.labels(dependency).set(BREAKER_STATE_CODE.get(state, -1))


class BreakerStateListener(pybreaker.CircuitBreakerListener):
    """Keeps the breaker-state gauge in step with pybreaker's transitions."""

    def __init__(self, metrics: DependencyMetrics, dependency: str) -> None:
        self.metrics = metrics
        self.dependency = dependency

    def state_change(self, cb, old_state, new_state) -> None:  # noqa: ANN001 (pybreaker's API)
        self.metrics.set_breaker_state(self.dependency, new_state.name)
