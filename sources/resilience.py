"""A Source made resilient: a timeout per attempt, retries inside the decision's deadline, and
a circuit breaker per dependency. Wired around the HTTP sources in app/builder.py, so the
enrichment code only ever sees the Source protocol.

Which failures do what (ADR 0010):

    reason        retried   counts against the breaker
    timeout       yes       yes
    unreachable   yes       yes   (connection refused/reset, DNS, ...)
    server_error  yes       yes   (5xx)
    malformed     no        yes   (the dependency answers, but garbage: retrying repeats it)
    rejected      no        no    (4xx: the dependency is healthy, it said no)
    circuit_open  no        -     (no call was made)

The decision's deadline travels in a context variable set by the Enricher (`deadline_scope`),
because the Source protocol is `fetch(national_id)` and stays that way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

import pybreaker
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from sources.base import DependencyError, Source, SourceResult
from sources.metrics import DependencyMetrics

T = TypeVar("T")
RETRIED = frozenset({"timeout", "unreachable", "server_error"})
COUNTED = RETRIED | {"malformed"}

_DEADLINE: ContextVar[float | None] = ContextVar("enrichment_deadline", default=None)


@contextmanager
def deadline_scope(seconds: float) -> Iterator[float]:
    """Every fetch started inside (tasks copy the context) must finish within `seconds`."""
    deadline = time.monotonic() + seconds
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3            # at most this many calls per fetch, the first included
    call_timeout_s: float = 0.5  # one attempt, from connect to validated body
    budget_s: float = 0.8        # the deadline when no deadline_scope is active
    backoff_s: float = 0.02      # jittered exponential backoff: random in [0, backoff * 2^n]
    backoff_max_s: float = 0.2
    min_attempt_s: float = 0.02  # do not start an attempt with less time than this left


def counts_against_breaker(exc: BaseException) -> bool:
    return not isinstance(exc, DependencyError) or exc.reason in COUNTED


class AsyncBreaker:
    """pybreaker on asyncio without tornado: `with breaker.calling(): await call()` lets
    pybreaker count the awaited call. pybreaker lets every call through while half-open;
    here only one trial call at a time goes out, the others fail fast as if open."""

    def __init__(self, breaker: pybreaker.CircuitBreaker) -> None:
        self.breaker = breaker
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        return self.breaker.current_state

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        trial = self.breaker.current_state != pybreaker.STATE_CLOSED
        if trial and self._trial_in_flight:
            raise pybreaker.CircuitBreakerError("a trial call is already in flight")
        self._trial_in_flight = trial or self._trial_in_flight
        try:
            with self.breaker.calling():
                return await fn()
        finally:
            if trial:
                self._trial_in_flight = False


def new_breaker(name: str, fail_max: int, reset_timeout_s: float,
                storage: pybreaker.CircuitBreakerStorage | None = None,
                listeners: list[pybreaker.CircuitBreakerListener] | None = None) -> AsyncBreaker:
    return AsyncBreaker(pybreaker.CircuitBreaker(
        fail_max=fail_max, reset_timeout=reset_timeout_s, name=name, state_storage=storage,
        exclude=[lambda exc: not counts_against_breaker(exc)], listeners=listeners or [],
        throw_new_error_on_trip=False))  # the tripping call keeps its own reason


class ResilientSource:
    """Implements Source around another Source."""

    def __init__(self, inner: Source, breaker: AsyncBreaker, policy: RetryPolicy,
                 metrics: DependencyMetrics | None = None) -> None:
        self.name = inner.name
        self.inner = inner
        self.breaker = breaker
        self.policy = policy
        self.metrics = metrics

    async def fetch(self, national_id: str) -> SourceResult:
        p = self.policy
        deadline = _DEADLINE.get() or time.monotonic() + p.budget_s
        backoff = wait_random_exponential(multiplier=p.backoff_s, max=p.backoff_max_s)

        def wait(state: RetryCallState) -> float:
            return max(0.0, min(backoff(state), deadline - time.monotonic() - p.min_attempt_s))

        def out_of_time(state: RetryCallState) -> bool:
            # Half of min_attempt_s: `wait` leaves exactly min_attempt_s, minus time passing.
            return deadline - time.monotonic() - state.upcoming_sleep < p.min_attempt_s / 2

        def retried(exc: BaseException) -> bool:
            return isinstance(exc, DependencyError) and exc.reason in RETRIED

        retrying = AsyncRetrying(retry=retry_if_exception(retried),
                                 stop=stop_after_attempt(p.attempts) | out_of_time,
                                 wait=wait, reraise=True, before=self._count_retry)
        return await retrying(self._attempt, national_id, deadline)

    def _count_retry(self, state: RetryCallState) -> None:
        if state.attempt_number > 1 and self.metrics:
            self.metrics.retries.labels(self.name).inc()

    async def _attempt(self, national_id: str, deadline: float) -> SourceResult:
        budget = min(self.policy.call_timeout_s, deadline - time.monotonic())
        if budget < self.policy.min_attempt_s / 2:  # not worth a call, not the dependency's fault
            raise DependencyError(self.name, "timeout", "no time left in the deadline")
        start = time.perf_counter()
        outcome = "error"
        try:
            result = await self.breaker.call(lambda: self._bounded(national_id, budget))
            outcome = "ok"
            return result
        except pybreaker.CircuitBreakerError as exc:
            outcome = "circuit_open"
            raise DependencyError(self.name, "circuit_open") from exc
        except DependencyError as exc:
            outcome = exc.reason
            raise
        finally:
            if self.metrics:
                self.metrics.observe(self.name, outcome, time.perf_counter() - start)
                self.metrics.set_breaker_state(self.name, self.breaker.state)

    async def _bounded(self, national_id: str, budget: float) -> SourceResult:
        try:
            async with asyncio.timeout(budget):
                return await self.inner.fetch(national_id)
        except TimeoutError as exc:
            raise DependencyError(self.name, "timeout", "attempt budget spent") from exc
