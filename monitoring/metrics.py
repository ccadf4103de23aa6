"""Prometheus gauges of monitoring (drift per feature and of the score, realized and
expected bad rates, how far the read model is behind), refreshed in the background by
`Refresher`; deploy/prometheus/alerts.yml alerts on them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from core.pacing import Pacer
from monitoring.service import Monitor
from monitoring.store import Period

STATUS_CODE = {"ok": 0, "warn": 1, "alert": 2}
_log = structlog.get_logger("credit.monitoring")


class MonitoringMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.feature_psi = Gauge(
            "credit_monitoring_feature_psi", "PSI of a model feature against the training "
            "reference of the version that served (drift window)", ["model_version", "feature"],
            registry=registry)
        self.feature_status = Gauge(
            "credit_monitoring_feature_drift_status", "Drift status of a feature with the "
            "configured thresholds: 0 ok, 1 warn, 2 alert", ["model_version", "feature"],
            registry=registry)
        self.score_psi = Gauge(
            "credit_monitoring_score_psi", "PSI of the model's PD against its training "
            "reference (drift window)", ["model_version"], registry=registry)
        self.score_status = Gauge(
            "credit_monitoring_score_drift_status", "Drift status of the score: 0 ok, 1 warn, "
            "2 alert", ["model_version"], registry=registry)
        labels = ["country", "decided_by", "model_version"]
        self.bad_rate = Gauge(
            "credit_monitoring_bad_rate", "Realized bad rate of approved loans with an outcome "
            "(performance window)", labels, registry=registry)
        self.bad_rate_low = Gauge(
            "credit_monitoring_bad_rate_ci_low", "Wilson 95% lower bound of the realized bad "
            "rate", labels, registry=registry)
        self.expected = Gauge(
            "credit_monitoring_expected_bad_rate", "Mean PD of the same approved loans with an "
            "outcome (what the model expected)", labels, registry=registry)
        self.with_outcome = Gauge(
            "credit_monitoring_loans_with_outcome", "Approved loans with an outcome "
            "(performance window)", labels, registry=registry)
        self.pending = Gauge(
            "credit_monitoring_pending_records", "Audit records not yet projected into the "
            "monitoring read model", registry=registry)
        self.refreshed = Gauge(
            "credit_monitoring_last_refresh_timestamp_seconds", "When the monitoring gauges "
            "were last computed", registry=registry)
        self.errors = Counter(
            "credit_monitoring_refresh_errors_total", "Failed refreshes of the monitoring "
            "gauges", registry=registry)

    def update(self, performance: dict[str, Any], drift: dict[str, Any]) -> None:
        for gauge in (self.feature_psi, self.feature_status, self.score_psi, self.score_status,
                      self.bad_rate, self.bad_rate_low, self.expected, self.with_outcome):
            gauge.clear()  # a group or version that left the window leaves the gauges
        version = drift.get("model_version")
        for f in drift.get("features", []):
            if f["psi"] is not None and f["status"] in STATUS_CODE:
                self.feature_psi.labels(version, f["name"]).set(f["psi"])
                self.feature_status.labels(version, f["name"]).set(STATUS_CODE[f["status"]])
        score = drift.get("score")
        if score and score["psi"] is not None and score["status"] in STATUS_CODE:
            self.score_psi.labels(version).set(score["psi"])
            self.score_status.labels(version).set(STATUS_CODE[score["status"]])
        for g in performance["groups"]:
            labels = (g["country"], g["decided_by"], g["model_version"] or "")
            self.with_outcome.labels(*labels).set(g["approved_with_outcome"])
            if g["bad_rate_approved"] is not None:
                self.bad_rate.labels(*labels).set(g["bad_rate_approved"])
                self.bad_rate_low.labels(*labels).set(g["bad_rate_approved_ci"][0])
            if g["mean_pd_approved"] is not None:
                self.expected.labels(*labels).set(g["mean_pd_approved"])
        pending = performance["freshness"]["pending_records"]
        if pending is not None:
            self.pending.set(pending)
        self.refreshed.set_to_current_time()


def window(days: int) -> Period:
    return Period(since=(datetime.now(UTC).date() - timedelta(days=days)).isoformat())


class Refresher:
    """Every `interval_s`, in a thread of its own: catch the read model up with the log
    (so requests find little to project; unless `project` is False: another process does)
    and recompute the gauges."""

    def __init__(self, monitor: Monitor, metrics: MonitoringMetrics, interval_s: float,
                 performance_days: int, drift_days: int, cpu_share: float = 1.0,
                 project: bool = True) -> None:
        self.monitor = monitor
        self.cpu_share = cpu_share  # of the GIL, while it projects (core/pacing.py)
        self.project = project
        self.metrics = metrics
        self.interval_s = interval_s
        self.performance_days = performance_days
        self.drift_days = drift_days
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        try:
            fresh = self.monitor.refresh(share=True,  # every worker runs one
                                         pace=Pacer(self.cpu_share)) if self.project \
                else self.monitor.status()
            self.metrics.update(
                self.monitor.performance(window(self.performance_days), fresh=fresh),
                self.monitor.drift(window(self.drift_days), fresh=fresh))
        except Exception as exc:  # noqa: BLE001 - counted and logged; the next run retries
            self.metrics.errors.inc()
            _log.warning("monitoring_refresh_failed", error_type=type(exc).__name__)

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="monitoring", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
