"""Per-stage latency from the service's own /metrics: scrape before and after a load, diff.

Each uvicorn worker keeps its own Prometheus registry and /metrics answers from whichever
worker took the connection. So the probe holds ONE kept-alive connection (pinged every
second, under uvicorn's keep-alive timeout) for the whole load: before and after come from
the same worker, and the diff is that worker's share of the decisions (`count` against the
load's request total says how large a share). A reconnect would mix workers: the result
then says `same_worker: false` and should not be trusted.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

STAGE_METRIC = "credit_decision_stage_seconds"
Buckets = dict[str, dict[float, float]]  # stage -> upper bound -> cumulative count


class StageProbe:
    def __init__(self, base_url: str, authorization: str, ping_every_s: float = 1.0) -> None:
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.headers = {"Authorization": authorization}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ping_every_s = ping_every_s
        self.sock = None
        self.same_worker = True
        self.thread = threading.Thread(target=self._keep_alive, daemon=True)

    def _get(self, path: str) -> str:
        with self.lock:
            self.conn.request("GET", path, headers=self.headers)
            resp = self.conn.getresponse()
            body = resp.read().decode()
            if self.sock is None:
                self.sock = self.conn.sock
            elif self.conn.sock is not self.sock:
                self.same_worker = False
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status} {body[:200]}")
            return body

    def _keep_alive(self) -> None:
        while not self.stop.wait(self.ping_every_s):
            try:
                self._get("/healthz")
            except (OSError, http.client.HTTPException, RuntimeError):
                self.same_worker = False

    def __enter__(self) -> StageProbe:
        self.before = parse(self._get("/metrics"))
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        try:
            self.after = parse(self._get("/metrics"))
        except (OSError, http.client.HTTPException):
            self.same_worker = False  # the worker closed our connection; another answers
            self.after = parse(self._get("/metrics"))
        self.conn.close()

    def result(self, requests: int) -> dict[str, Any]:
        stages = diff(self.before, self.after)
        total = stages.get("total", {}).get("count", 0)
        return {"source": f"/metrics {STAGE_METRIC}, one worker, diff of before/after",
                "same_worker": self.same_worker,
                "worker_share": round(total / requests, 3) if requests else None,
                "stages": stages}


def parse(text: str) -> tuple[Buckets, dict[str, float]]:
    """(cumulative buckets per stage, sum of seconds per stage) from Prometheus text."""
    buckets: Buckets = {}
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != STAGE_METRIC:
            continue
        for s in family.samples:
            stage = s.labels.get("stage", "")
            if s.name.endswith("_bucket"):
                buckets.setdefault(stage, {})[float(s.labels["le"])] = s.value
            elif s.name.endswith("_sum"):
                sums[stage] = s.value
    return buckets, sums


def diff(before: tuple[Buckets, dict[str, float]],
         after: tuple[Buckets, dict[str, float]]) -> dict[str, dict[str, Any]]:
    out = {}
    for stage, cum in after[0].items():
        prev = before[0].get(stage, {})
        delta = {le: n - prev.get(le, 0.0) for le, n in sorted(cum.items())}
        count = delta.get(float("inf"), 0.0)
        if count <= 0:
            continue
        seconds = after[1].get(stage, 0.0) - before[1].get(stage, 0.0)
        out[stage] = {"count": int(count), "mean_ms": round(seconds / count * 1000, 3),
                      "p50_ms": quantile_ms(delta, 0.5), "p99_ms": quantile_ms(delta, 0.99)}
    return out


def quantile_ms(cumulative: dict[float, float], q: float) -> float | None:
    """Prometheus histogram_quantile: linear inside the bucket holding the q-th observation.
    Only as precise as the buckets (0.5, 1, 2, 5, 10, 25 ms...); None past the last bound."""
    bounds = sorted(cumulative)
    rank = q * cumulative[float("inf")]
    lower, below = 0.0, 0.0
    for upper in bounds:
        n = cumulative[upper]
        if n >= rank:
            if upper == float("inf"):
                return None
            inside = n - below
            frac = (rank - below) / inside if inside else 1.0
            return round((lower + (upper - lower) * frac) * 1000, 3)
        lower, below = upper, n
    return None
