"""Calling a blocking store from the event loop: in a worker thread, with a deadline.

Nothing on the event loop may wait on a lock or the network, not even a local SQLite file
(another process may hold its write lock for seconds). Every store call runs in a thread and
the caller stops waiting after `timeout_s`, turning a stalled store into the right answer
(a degradation, or a 503 on the audit path) within the decision's budget. The call itself
may still finish in its thread: stores keep their own timeouts (SQLite busy timeout, socket
timeouts) near the deadline so that threads come back.

Calls given a `lane` (a store: "audit", "features", ...) that are made in the same turn of
the event loop run together, one after another, in one thread job (ADR 0145). A hop to a
thread and back costs 40-80 µs of CPU and hands the GIL back and forth; a decision makes
several and concurrent decisions make theirs at the same moments, so batching them cut the
CPU of a decision by a third. Each caller still has its own deadline; a slow call delays
only the calls batched behind it on its own lane (the same store, likely as slow).

When every call of a batch is a method of one object that has `call_many(calls)` (a list of
(bound method, args) -> a list of (value, exception)), the batch is handed to it: a store
across the network makes them in one round trip (ADR 0149).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Call = tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]


class StoreTimeout(TimeoutError):
    """A store did not answer within the caller's deadline."""


class _Lanes:
    """The calls waiting for this turn of one event loop's lanes to be sent to a thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: dict[str, list[_Call]] = {}

    def submit(self, lane: str, fn: Callable[..., T], args: tuple[Any, ...]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self._loop.create_future()
        batch = self._pending.get(lane)
        if batch is None:
            batch = self._pending[lane] = []
            self._loop.call_soon(self._send, lane)
        batch.append((fn, args, future))
        return future

    def _send(self, lane: str) -> None:
        batch = self._pending.pop(lane)
        try:
            # The answers come back with the job's own future: one wake-up of the loop per
            # batch (a call_soon_threadsafe of our own would be a second).
            self._loop.run_in_executor(None, _run, batch).add_done_callback(_deliver)
        except RuntimeError as exc:  # the executor is shut down: the loop is closing
            _set([(future, None, exc) for _, _, future in batch])


_Results = list[tuple[asyncio.Future[Any], Any, BaseException | None]]


def _run(batch: list[_Call]) -> _Results:
    # Every call a method of one object that can make several at once (a Redis store: one
    # pipeline, one round trip): handed over together, each still answered on its own.
    owner = getattr(batch[0][0], "__self__", None)
    call_many = getattr(owner, "call_many", None)
    if call_many is not None and len(batch) > 1 and all(
            getattr(fn, "__self__", None) is owner for fn, _, _ in batch):
        try:
            answers = call_many([(fn, args) for fn, args, _ in batch])
        except BaseException as exc:  # noqa: BLE001 - every caller's to raise
            answers = [(None, exc)] * len(batch)
        return [(future, value, exc)
                for (_, _, future), (value, exc) in zip(batch, answers, strict=True)]
    results: _Results = []
    for fn, args, future in batch:
        try:
            results.append((future, fn(*args), None))
        except BaseException as exc:  # noqa: BLE001 - the caller's to raise
            results.append((future, None, exc))
    return results


def _deliver(job: asyncio.Future[_Results]) -> None:
    if not job.cancelled():  # cancelled: the loop closed under it, nobody waits any more
        _set(job.result())


def _set(results: _Results) -> None:
    for future, value, exc in results:
        if future.done():  # its caller stopped waiting (deadline)
            continue
        if exc is None:
            future.set_result(value)
        else:
            future.set_exception(exc)


_lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lanes] = \
    weakref.WeakKeyDictionary()


async def call(fn: Callable[..., T], *args: Any, timeout_s: float, lane: str | None = None) -> T:
    loop = asyncio.get_running_loop()
    if lane is None:
        # run_in_executor's future directly: asyncio.to_thread would add a coroutine, a copy
        # of the context and, under wait_for, a task around them.
        future: asyncio.Future[T] = loop.run_in_executor(None, fn, *args)
    else:
        lanes = _lanes.get(loop)
        if lanes is None:
            lanes = _lanes[loop] = _Lanes(loop)
        future = lanes.submit(lane, fn, args)
    try:
        return await asyncio.wait_for(future, timeout_s)
    except TimeoutError as exc:
        name = getattr(fn, "__qualname__", "store call")
        raise StoreTimeout(f"{name} did not answer within {timeout_s:g}s") from exc
