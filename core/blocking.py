"""Calling a blocking store from the event loop: in a worker thread, with a deadline.

Nothing on the event loop may wait on a lock or the network, not even a local SQLite file
(another process may hold its write lock for seconds). Every store call runs in a thread and
the caller stops waiting after `timeout_s`, turning a stalled store into the right answer
(a degradation, or a 503 on the audit path) within the decision's budget. The call itself
may still finish in its thread: stores keep their own timeouts (SQLite busy timeout, socket
timeouts) near the deadline so that threads come back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class StoreTimeout(TimeoutError):
    """A store did not answer within the caller's deadline."""


async def call(fn: Callable[..., T], *args: Any, timeout_s: float) -> T:
    # run_in_executor's future directly: asyncio.to_thread would add a coroutine, a copy of
    # the context and, under wait_for, a task around them, per store call (several a decision).
    try:
        return await asyncio.wait_for(
            asyncio.get_running_loop().run_in_executor(None, fn, *args), timeout_s)
    except TimeoutError as exc:
        name = getattr(fn, "__qualname__", "store call")
        raise StoreTimeout(f"{name} did not answer within {timeout_s:g}s") from exc
