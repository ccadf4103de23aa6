"""Abuse limits (decision/ratelimit.py): per key and per customer, sliding windows that
remember the previous window, shared through Redis, failing open when Redis is gone."""

import asyncio
import time

import pytest

from decision.errors import RateLimited
from decision.ratelimit import RateLimiter


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("storage", ["memory://", "redis"])
def test_limits_per_customer_and_client(storage, redis_url):
    """The Nth+1 hit in a window is refused; other customers and clients are unaffected."""
    uri = redis_url if storage == "redis" else storage
    limiter = RateLimiter("5/minute", "3/minute", uri)

    async def scenario():
        for _ in range(3):
            await limiter.customer("ES", "C-1")
        with pytest.raises(RateLimited, match="3 per 1 minute"):
            await limiter.customer("ES", "C-1")
        await limiter.customer("ES", "C-2")
        await limiter.customer("PT", "C-1")
        for _ in range(5):
            await limiter.client("k1")
        with pytest.raises(RateLimited):
            await limiter.client("k1")
        await limiter.client("k2")

    run(scenario())


def test_the_previous_window_still_counts_at_the_edge():
    """10 hits at the end of one minute, then the next minute begins: the previous window
    still weighs (59/60 of it overlaps), so the limit is not doubled at the edge."""
    now = [60.0 * 1000 + 59.0]  # second 59 of a minute
    limiter = RateLimiter("10/minute", "10/minute", clock=lambda: now[0])

    async def scenario():
        for _ in range(10):
            await limiter.client("k")
        now[0] += 2.0  # second 1 of the next minute
        with pytest.raises(RateLimited):
            await limiter.client("k")
        now[0] += 58.0  # the previous window almost gone: room again
        await limiter.client("k")

    run(scenario())


def allowed_count(limiter, at, now, tries=5):
    """How many of `tries` hits at time `at` the limiter lets through."""
    now[0] = at

    async def go():
        n = 0
        for _ in range(tries):
            try:
                await limiter.client("k")
                n += 1
            except RateLimited:
                pass
        return n

    return run(go())


def test_a_new_window_starts_empty_and_weighs_only_the_one_before():
    """2 per minute. The next minute starts with no hit of its own; halfway through it the
    previous minute weighs half. After a whole idle minute nothing old counts."""
    now = [0.0]
    limiter = RateLimiter("2/minute", "2/minute", clock=lambda: now[0])
    assert allowed_count(limiter, 600.0, now) == 2
    assert allowed_count(limiter, 660.0, now) == 0  # 2 x 1.0 of the previous minute
    assert allowed_count(limiter, 690.0, now) == 1  # 2 x 0.5 + 0
    assert allowed_count(limiter, 810.0, now) == 2  # 720-780 was idle: it weighs nothing


def test_a_frozen_redis_fails_open_within_the_deadline(redis_process):
    """Redis stopped (SIGSTOP): the check gives up after its deadline and lets the request
    through, counted; nothing waits longer."""
    import signal

    url, proc = redis_process
    errors = []
    limiter = RateLimiter("1/minute", "1/minute", url, timeout_s=0.1,
                          on_error=lambda: errors.append(1))
    proc.send_signal(signal.SIGSTOP)
    try:
        t = time.perf_counter()
        run(limiter.client("k"))
        run(limiter.client("k"))  # over the limit, but the storage cannot say so
        assert time.perf_counter() - t < 1.0 and len(errors) == 2
    finally:
        proc.send_signal(signal.SIGCONT)
