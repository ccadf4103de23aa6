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


def test_calls_on_a_lane_in_one_turn_run_together_in_one_thread_in_order():
    """Coalesced: one thread job for the turn's calls on a lane, each caller its own answer
    (or its own error)."""
    ran = []

    def step(name):
        ran.append((name, threading.get_ident()))
        if name == "bad":
            raise ConnectionError("down")
        return name.upper()

    async def scenario():
        calls = [blocking.call(step, n, timeout_s=1.0, lane="features")
                 for n in ("a", "bad", "b")]
        return await asyncio.gather(*calls, return_exceptions=True)

    a, bad, b = asyncio.run(scenario())
    assert (a, b) == ("A", "B") and isinstance(bad, ConnectionError)
    assert [n for n, _ in ran] == ["a", "bad", "b"]
    assert len({ident for _, ident in ran}) == 1


def test_a_stuck_call_holds_up_only_its_own_lane_and_callers_keep_their_deadlines():
    release = threading.Event()

    async def scenario():
        stuck = asyncio.ensure_future(blocking.call(release.wait, 5.0, timeout_s=0.2,
                                                    lane="audit"))
        behind = asyncio.ensure_future(blocking.call(lambda: "late", timeout_s=0.2,
                                                     lane="audit"))
        start = time.perf_counter()
        other = await blocking.call(lambda: "free", timeout_s=1.0, lane="features")
        other_s = time.perf_counter() - start
        results = await asyncio.gather(stuck, behind, return_exceptions=True)
        waited_s = time.perf_counter() - start
        release.set()
        await asyncio.sleep(0.05)  # the stuck job ends; its answers find nobody waiting
        return other, other_s, results, waited_s

    other, other_s, results, waited_s = asyncio.run(scenario())
    assert other == "free" and other_s < 0.15
    assert all(isinstance(r, blocking.StoreTimeout) for r in results)
    assert waited_s < 1.0


class Batching:
    """A store that can make several calls at once (as Redis does in one pipeline)."""

    def __init__(self, fail_whole=False):
        self.batches, self.fail_whole = [], fail_whole

    def call_many(self, calls):
        self.batches.append([fn.__name__ for fn, _ in calls])
        if self.fail_whole:
            raise ConnectionError("down")
        return [(None, ValueError(a)) if a == "bad" else (fn.__func__(self, a) + "!", None)
                for fn, (a,) in calls]

    def get(self, key):
        return key.upper()

    def put(self, key):
        return key.lower()


def test_a_lane_turn_of_one_store_is_handed_to_its_call_many_each_caller_answered():
    """Every call a method of one object with call_many: one call_many for the turn; each
    caller gets its own answer or error; a failure of the whole batch reaches every caller.
    Calls alone, or mixed with other callables, run one by one as before."""
    store = Batching()

    async def turn(calls):
        return await asyncio.gather(*(blocking.call(fn, arg, timeout_s=1.0, lane="features")
                                      for fn, arg in calls), return_exceptions=True)

    a, bad, c = asyncio.run(turn([(store.get, "a"), (store.get, "bad"), (store.put, "C")]))
    assert (a, c) == ("A!", "c!") and isinstance(bad, ValueError)
    assert store.batches == [["get", "get", "put"]]

    assert asyncio.run(turn([(store.get, "x")])) == ["X"]  # alone: the method itself
    assert asyncio.run(turn([(store.get, "y"), (str.upper, "z")])) == ["Y", "Z"]
    assert store.batches == [["get", "get", "put"]]

    failing = Batching(fail_whole=True)
    assert all(isinstance(r, ConnectionError)
               for r in asyncio.run(turn([(failing.get, "a"), (failing.put, "b")])))
