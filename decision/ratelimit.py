"""Abuse limits: requests per API key, and decisions per customer (score probing: the same
customer trying variations of an application to learn the model's boundary).

Limits are `limits` strings ("30/day"). Counters are shared between workers through the
`limits` Redis storage (`redis://...`); in one process (`memory://`, the default) they are a
small sliding-window counter here, because the `limits` memory storage starts a timer thread
to expire keys, which cost ~10% of a decision's CPU in profiles.

A shared storage is called in a thread with a deadline (nothing on the event loop waits on
the network); when it does not answer, the request is let through and counted in
`credit_rate_limit_errors_total` (fail open: these are abuse limits, and an outage of their
storage must not refuse every caller).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from limits import RateLimitItem, parse, storage, strategies

from core import blocking
from decision.errors import RateLimited

_log = structlog.get_logger("credit.ratelimit")


class LocalWindows:
    """Sliding-window counters (the current fixed window plus the previous one, weighted by
    how much of it still overlaps), as `limits`' sliding-window-counter strategy computes
    them. Used from the event loop only, so no lock."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # (limit, ids) -> (window start, current, previous); the tuple is the key: building
        # `limits`' string key cost ~4% of a decision's CPU in profiles.
        self._windows: dict[tuple, tuple[float, int, int]] = {}
        self._next_purge = 0.0
        self._clock = clock

    def hit(self, item: RateLimitItem, *ids: str) -> bool:
        period, now = item.get_expiry(), self._clock()
        start = now - now % period
        key = (item.amount, period, *ids)
        began, current, previous = self._windows.get(key, (start, 0, 0))
        if began != start:  # a new window: the old current one becomes the previous one
            current, previous = 0, current if start - began == period else 0
        weighted = previous * (1 - (now - start) / period) + current
        allowed = weighted + 1 <= item.amount
        self._windows[key] = (start, current + allowed, previous)
        if now >= self._next_purge:
            self._purge(now)
        return allowed

    def _purge(self, now: float) -> None:
        # Entries whose windows both ended no longer count: forget them (bounded memory).
        self._windows = {k: v for k, v in self._windows.items() if now - v[0] < 2 * 86_400}
        self._next_purge = now + 60


class RateLimiter:
    def __init__(self, per_client: str, per_customer: str, storage_uri: str = "memory://",
                 timeout_s: float = 0.1, on_error: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.time) -> None:
        self.per_client = parse(per_client)
        self.per_customer = parse(per_customer)
        self._timeout_s = timeout_s
        self._on_error = on_error
        self._shared = not storage_uri.startswith("memory://")
        if self._shared:
            self._hit = strategies.SlidingWindowCounterRateLimiter(storage.storage_from_string(
                storage_uri, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)).hit
        else:
            self._hit = LocalWindows(clock).hit

    async def _allowed(self, item: RateLimitItem, *ids: str) -> bool:
        if not self._shared:
            return self._hit(item, *ids)
        try:
            return await blocking.call(self._hit, item, *ids, timeout_s=self._timeout_s,
                                       lane="limits")
        except Exception as exc:  # fail open, counted (see the module docstring)
            self._on_error()
            _log.warning("rate_limit_storage_failed", error_type=type(exc).__name__)
            return True

    async def client(self, key_id: str) -> None:
        if not await self._allowed(self.per_client, "client", key_id):
            raise RateLimited(f"rate limit of {self.per_client} per API key exceeded")

    async def customer(self, country: str, customer_id: str) -> None:
        if not await self._allowed(self.per_customer, "customer", country, customer_id):
            raise RateLimited(f"too many applications for this customer "
                              f"(limit {self.per_customer})")
