"""Prometheus metrics of the rollout: arms, shadow runs and live concordance.

Counters are the fleet-wide truth (sum them over workers: agreement = pairs on the diagonal
/ all pairs). The gauges are this worker's running agreement and Cohen's kappa, for a
dashboard glance; `credit shadow report --prom FILE` writes the same gauges computed from
the whole audit log (node-exporter textfile format).
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge

from shadow.concordance import OUTCOMES, kappa_from_table


class RolloutMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.shadow_runs = Counter(
            "credit_shadow_runs_total", "Shadow arm runs by country, arm and status "
            "(ok, error, timeout, busy)", ["country", "arm", "status"], registry=registry)
        self.pairs = Counter(
            "credit_shadow_pairs_total", "Compared decisions: legacy outcome x model outcome",
            ["country", "legacy_outcome", "model_outcome"], registry=registry)
        self.agreement = Gauge(
            "credit_shadow_agreement_ratio", "Share of compared decisions where both arms "
            "agree (this worker, since start)", ["country"], registry=registry)
        self.kappa = Gauge(
            "credit_shadow_kappa", "Cohen's kappa between legacy and model outcomes "
            "(this worker, since start)", ["country"], registry=registry)
        self.model_share = Gauge(
            "credit_flag_model_share", "Share of buckets the model decides, as this worker "
            "sees the flag", ["country"], registry=registry)
        self.flag_errors = Counter(
            "credit_flag_store_errors_total", "Failed reads of the flag store (the last "
            "snapshot stays in force)", registry=registry)
        self._tables: dict[str, list[list[int]]] = {}
        self._lock = threading.Lock()

    def compared(self, country: str, legacy: str, model: str) -> None:
        self.pairs.labels(country, legacy, model).inc()
        with self._lock:
            table = self._tables.setdefault(country, [[0] * 3 for _ in OUTCOMES])
            table[OUTCOMES.index(legacy)][OUTCOMES.index(model)] += 1
            n = sum(map(sum, table))
            agree = sum(table[i][i] for i in range(3))
            self.agreement.labels(country).set(agree / n)
            self.kappa.labels(country).set(kappa_from_table(table))
