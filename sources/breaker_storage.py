"""Circuit-breaker state shared through Redis, falling back to this process's own state while
Redis is unreachable.

pybreaker's CircuitRedisStorage already swallows Redis errors, but then answers a fixed
"closed" state with zero failures, so a breaker could never open while Redis is down. Here
the first Redis error switches this process to an in-memory storage for `retry_after_s`;
decisions go on with a local breaker, and Redis is tried again afterwards (it is the source
of truth once back). The Redis client must have short socket timeouts: its calls are
synchronous and run on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pybreaker
import redis


class _Watched:
    """A Redis client proxy that reports connection errors before re-raising them."""

    def __init__(self, client: redis.Redis, on_error: Callable[[], None]) -> None:
        self._client = client
        self._on_error = on_error

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except redis.RedisError:
                self._on_error()
                raise

        return call


class FallbackRedisStorage(pybreaker.CircuitBreakerStorage):
    def __init__(self, namespace: str, client: redis.Redis, retry_after_s: float = 5.0) -> None:
        super().__init__("redis-with-local-fallback")
        self._namespace = namespace
        self._client = _Watched(client, self._mark_down)
        self._retry_after_s = retry_after_s
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._shared: pybreaker.CircuitRedisStorage | None = None
        self._down_until = 0.0

    def _mark_down(self) -> None:
        self._down_until = time.monotonic() + self._retry_after_s

    @property
    def shared(self) -> bool:
        """True while state is read from Redis (False: local fallback)."""
        return self._store() is not self._local

    def _store(self) -> pybreaker.CircuitBreakerStorage:
        if time.monotonic() < self._down_until:
            return self._local
        if self._shared is None:
            try:
                self._shared = pybreaker.CircuitRedisStorage(
                    pybreaker.STATE_CLOSED, self._client, namespace=self._namespace)
            except redis.RedisError:
                return self._local
        return self._shared

    @property
    def state(self) -> str:
        return self._store().state

    @state.setter
    def state(self, state: str) -> None:
        self._store().state = state

    def increment_counter(self) -> None:
        self._store().increment_counter()

    def reset_counter(self) -> None:
        self._store().reset_counter()

    def increment_success_counter(self) -> None:
        self._store().increment_success_counter()

    def reset_success_counter(self) -> None:
        self._store().reset_success_counter()

    @property
    def counter(self) -> int:
        return self._store().counter

    @property
    def success_counter(self) -> int:
        return self._store().success_counter

    @property
    def opened_at(self) -> datetime | None:
        return self._store().opened_at

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        self._store().opened_at = now
