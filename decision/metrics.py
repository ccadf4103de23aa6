"""Prometheus metrics of the decision path, registered on the app's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from sources.metrics import LATENCY_BUCKETS


class DecisionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "credit_decisions_total", "Decisions made, by outcome, country and deciding arm",
            ["outcome", "country", "decided_by"], registry=registry)
        self.stage_seconds = Histogram(
            "credit_decision_stage_seconds", "Latency of each stage of the decision path",
            ["stage"], buckets=LATENCY_BUCKETS, registry=registry)
        self.rate_limit_errors = Counter(
            "credit_rate_limit_errors_total", "Rate-limit checks let through because the "
            "shared limit storage did not answer", registry=registry)
        self.audit_failures = Counter(
            "credit_audit_failures_total", "Decisions refused (503) because the audit log failed",
            registry=registry)
