"""core/blocking.py: a blocking store call runs off the event loop, within its deadline."""

import asyncio
import threading
import time

import pytest

from core import blocking


def test_call_runs_in_another_thread_and_returns_its_value():
    loop_thread = threading.get_ident()

    async def scenario():
        return await blocking.call(lambda a, b: (threading.get_ident(), a + b), 2, 3,
                                   timeout_s=1.0)

    ident, value = asyncio.run(scenario())
    assert value == 5
    assert ident != loop_thread


def test_a_call_past_its_deadline_is_a_store_timeout_and_the_loop_stays_free():
    release = threading.Event()
    ticks = []

    async def ticker():
        while not release.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    async def scenario():
        t = asyncio.create_task(ticker())
        start = time.perf_counter()
        with pytest.raises(blocking.StoreTimeout, match="did not answer within 0.1s"):
            await blocking.call(release.wait, 5.0, timeout_s=0.1)
        elapsed = time.perf_counter() - start
        release.set()
        await t
        return elapsed

    elapsed = asyncio.run(scenario())
    assert elapsed < 1.0
    assert len(ticks) >= 5  # the loop kept running while the call was stuck


def test_an_error_of_the_store_reaches_the_caller():
    def failing():
        raise ConnectionError("down")

    with pytest.raises(ConnectionError, match="down"):
        asyncio.run(blocking.call(failing, timeout_s=1.0))
