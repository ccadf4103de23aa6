"""Per-stage latency from the service's own /metrics: scrape before and after a load, diff.

Each uvicorn worker keeps its own Prometheus registry and /metrics answers from whichever
worker took the connection. So the probe opens a few kept-alive connections (pinged every
second, under uvicorn's keep-alive timeout) before the load, each one bound to one worker
for the whole load, and diffs each connection's own before/after. It reports the connection
whose worker decided the most requests (`worker_share` of the load's total; with one load
connection, one worker may get everything). A reconnect would mix workers: that
connection's result then says `same_worker: false` and should not be trusted.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

STAGE_METRIC = "credit_decision_stage_seconds"
Buckets = dict[str, dict[float, float]]  # stage -> upper bound -> cumulative count
Snapshot = tuple[Buckets, dict[str, float]]


class _Connection:
    """One HTTP/1.1 connection that notices when it had to reconnect (another worker)."""

    def __init__(self, host: str, port: int, authorization: str) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=10)
        self.headers = {"Authorization": authorization}
        self.lock = threading.Lock()
        self.sock = None
        self.same_worker = True

    def get(self, path: str) -> str:
        with self.lock:
            try:
                self.conn.request("GET", path, headers=self.headers)
                resp = self.conn.getresponse()
                body = resp.read().decode()
            except (OSError, http.client.HTTPException):
                self.same_worker = False  # closed by the server: the retry may reach another
                self.conn.close()
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


class StageProbe:
    def __init__(self, base_url: str, authorization: str, connections: int = 6,
                 ping_every_s: float = 1.0) -> None:
        parts = urlsplit(base_url)
        self.conns = [_Connection(parts.hostname or "127.0.0.1", parts.port or 80, authorization)
                      for _ in range(connections)]
        self.stop = threading.Event()
        self.ping_every_s = ping_every_s
        self.thread = threading.Thread(target=self._keep_alive, daemon=True)

    def _keep_alive(self) -> None:
        while not self.stop.wait(self.ping_every_s):
            for c in self.conns:
                try:
                    c.get("/healthz")
                except (OSError, http.client.HTTPException, RuntimeError):
                    c.same_worker = False

    def __enter__(self) -> StageProbe:
        self.before = [parse(c.get("/metrics")) for c in self.conns]
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.after = [parse(c.get("/metrics")) for c in self.conns]
        for c in self.conns:
            c.conn.close()

    def result(self, requests: int) -> dict[str, Any]:
        diffs = [diff(b, a) for b, a in zip(self.before, self.after, strict=True)]
        counts = [d.get("total", {}).get("count", 0) for d in diffs]
        best = max(range(len(diffs)), key=counts.__getitem__)
        return {"source": f"/metrics {STAGE_METRIC}, one worker, diff of before/after",
                "same_worker": self.conns[best].same_worker,
                "worker_share": round(counts[best] / requests, 3) if requests else None,
                "stages": diffs[best]}


def parse(text: str) -> Snapshot:
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


def diff(before: Snapshot, after: Snapshot) -> dict[str, dict[str, Any]]:
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
