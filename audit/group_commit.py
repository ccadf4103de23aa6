"""Group commit: concurrent decisions share one transaction (one fsync) of the audit store.

While one batch is being written in a worker thread, new records queue up; they form the
next batch. Each caller's future resolves only once its record is durable.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from audit.record import Entry
from audit.sqlite import AppendItem


class BatchStore(Protocol):
    def append_many(self, items: list[AppendItem]) -> list[Entry | Exception]: ...


class GroupCommitter:
    def __init__(self, store: BatchStore, max_batch: int = 256) -> None:
        self._store = store
        self._max_batch = max_batch
        self._pending: list[tuple[AppendItem, asyncio.Future[Entry]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def append(self, record: dict[str, Any], *, application_id: str | None = None,
                     decision_id: str | None = None) -> Entry:
        fut: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
        self._pending.append(((record, application_id, decision_id), fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await fut

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                results = await asyncio.to_thread(self._store.append_many,
                                                  [item for item, _ in batch])
            except Exception as exc:  # the whole batch failed: nobody gets a decision
                results = [exc] * len(batch)
            for (_, fut), res in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(res, Exception):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)
