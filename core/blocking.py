"""Calling a store's blocking method from the event loop.

A store on the local disk (SQLite) answers in tens of microseconds: running it on the loop
is cheaper than the thread hop and GIL hand-over of asyncio.to_thread. A store across the
network (Redis, DynamoDB) can stall for its whole timeout, so it runs in a thread. Stores
declare which they are with a `local` attribute (absent: not local).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def call(store: Any, fn: Callable[..., T], *args: Any) -> T:
    if getattr(store, "local", False):
        return fn(*args)
    return await asyncio.to_thread(fn, *args)
