"""ResilientSource around a scripted fake Source (our own protocol): retries, deadline, breaker."""

import asyncio
import time

import pybreaker
import pytest

from sources.base import DependencyError, SourceResult
from sources.resilience import (
    ResilientSource,
    RetryPolicy,
    deadline_scope,
    new_breaker,
)

OK = SourceResult({"bad_records": False, "debt": 0.0}, "0" * 64, 1.0)


class ScriptedSource:
    """Implements Source: plays a script of outcomes ("ok", a failure reason, or "hang")."""

    name = "bureau"

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.calls = 0

    async def fetch(self, national_id: str) -> SourceResult:
        self.calls += 1
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if step == "ok":
            return OK
        if step == "hang":
            await asyncio.sleep(3600)
        raise DependencyError(self.name, step)


def resilient(src, attempts=3, fail_max=5, reset_timeout_s=30.0, **policy):
    breaker = new_breaker(src.name, fail_max, reset_timeout_s)
    params = {"attempts": attempts, "call_timeout_s": 0.2, "budget_s": 0.5, "backoff_s": 0.005,
              "backoff_max_s": 0.02, **policy}
    return ResilientSource(src, breaker, RetryPolicy(**params))


def run(coro):
    return asyncio.run(coro)


async def fetch_reason(source):
    try:
        await source.fetch("00000001R")
    except DependencyError as exc:
        return exc.reason
    return "ok"


@pytest.mark.parametrize("reason", ["server_error", "timeout", "unreachable"])
def test_transient_failures_are_retried_until_success(reason):
    """Two transient failures, then an answer: three calls and a result."""
    src = ScriptedSource(reason, reason, "ok")
    assert run(resilient(src).fetch("x")) == OK
    assert src.calls == 3


@pytest.mark.parametrize("reason", ["rejected", "malformed"])
def test_4xx_and_malformed_are_not_retried(reason):
    src = ScriptedSource(reason)
    assert run(fetch_reason(resilient(src))) == reason
    assert src.calls == 1


def test_attempts_are_capped():
    src = ScriptedSource("server_error")
    assert run(fetch_reason(resilient(src, attempts=4))) == "server_error"
    assert src.calls == 4


def test_hang_is_cut_by_the_call_timeout_and_the_deadline():
    """Every attempt hangs: the fetch still ends by the deadline, with reason timeout."""
    src = ScriptedSource("hang")
    source = resilient(src, attempts=5, call_timeout_s=0.1)

    async def go():
        with deadline_scope(0.25):
            t = time.monotonic()
            reason = await fetch_reason(source)
            return reason, time.monotonic() - t

    reason, elapsed = run(go())
    assert reason == "timeout"
    assert elapsed < 0.25 + 0.03
    assert 2 <= src.calls <= 3  # 0.1 s each: the deadline, not `attempts`, stopped it


def test_no_attempt_starts_without_time_left():
    src = ScriptedSource("ok")

    async def go():
        with deadline_scope(0.0):
            return await fetch_reason(resilient(src))

    assert run(go()) == "timeout"


def test_breaker_opens_after_fail_max_and_fails_fast():
    """fail_max counted failures open the breaker; then no call reaches the source."""
    src = ScriptedSource("server_error")
    source = resilient(src, attempts=1, fail_max=3)

    async def go():
        reasons = [await fetch_reason(source) for _ in range(3)]
        t = time.perf_counter()
        reasons.append(await fetch_reason(source))
        return reasons, time.perf_counter() - t

    reasons, open_cost = run(go())
    assert reasons == ["server_error"] * 3 + ["circuit_open"]
    assert src.calls == 3
    assert source.breaker.state == pybreaker.STATE_OPEN
    assert open_cost < 0.05  # generous here; the benchmark measures microseconds


def test_4xx_does_not_count_against_the_breaker():
    src = ScriptedSource("rejected")
    source = resilient(src, attempts=1, fail_max=2)
    for _ in range(5):
        assert run(fetch_reason(source)) == "rejected"
    assert source.breaker.state == pybreaker.STATE_CLOSED


def test_half_open_lets_exactly_one_trial_through():
    """After reset_timeout, of ten concurrent fetches exactly one reaches the source."""
    src = ScriptedSource("server_error", "server_error", "hang")
    source = resilient(src, attempts=1, fail_max=2, reset_timeout_s=0.05, call_timeout_s=0.1)

    async def go():
        await fetch_reason(source)
        await fetch_reason(source)
        await asyncio.sleep(0.06)
        return await asyncio.gather(*(fetch_reason(source) for _ in range(10)))

    reasons = run(go())
    assert src.calls == 3
    assert sorted(reasons) == ["circuit_open"] * 9 + ["timeout"]
    assert source.breaker.state == pybreaker.STATE_OPEN  # the trial failed: open again


def test_successful_trial_closes_the_breaker():
    src = ScriptedSource("server_error", "server_error", "ok")
    source = resilient(src, attempts=1, fail_max=2, reset_timeout_s=0.05)

    async def go():
        await fetch_reason(source)
        await fetch_reason(source)
        await asyncio.sleep(0.06)
        return await fetch_reason(source)

    assert run(go()) == "ok"
    assert source.breaker.state == pybreaker.STATE_CLOSED


def test_retry_stops_when_the_breaker_opens_mid_fetch():
    """A retry that meets an open breaker stops: circuit_open is not retried."""
    src = ScriptedSource("server_error")
    source = resilient(src, attempts=5, fail_max=2)
    assert run(fetch_reason(source)) == "circuit_open"
    assert src.calls == 2


def test_backoff_is_capped_by_the_deadline():
    """A huge backoff does not overrun the deadline: the retry sleeps only what is left."""
    src = ScriptedSource("server_error")
    source = resilient(src, attempts=5, backoff_s=1000, backoff_max_s=1000)

    async def go():
        with deadline_scope(0.2):
            t = time.monotonic()
            reason = await fetch_reason(source)
            return reason, time.monotonic() - t

    reason, elapsed = run(go())
    # The last attempt starts with min_attempt_s (20 ms) left: on a busy machine the deadline
    # may cut it, so its reason may be the deadline's.
    assert reason in ("server_error", "timeout") and 0.15 < elapsed < 0.2 + 0.03
    assert 2 <= src.calls <= 5  # one at once, the rest in the last min_attempt_s
