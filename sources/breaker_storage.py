"""Circuit-breaker state shared through Redis without a Redis call on the event loop.

pybreaker reads and writes its storage synchronously inside every guarded call, on the event
loop: a Redis that stops answering would stall every decision for its socket timeout, several
times per call. So the breaker works on a local copy, and a daemon thread syncs it with Redis
every `sync_s`: it pushes this process's failures and state changes, then takes the shared
state. A breaker opened by one process opens in the others within one interval; while Redis
is down the local copy goes on alone (it still opens on this process's own failures), and
Redis is the source of truth again once it answers.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pybreaker
import redis


class SyncedRedisStorage(pybreaker.CircuitBreakerStorage):
    def __init__(self, namespace: str, client: redis.Redis, sync_s: float = 0.1) -> None:
        super().__init__("redis-synced")
        self._keys = [f"{namespace}:{k}" for k in ("state", "counter", "opened_at")]
        self._redis = client
        self._sync_s = sync_s
        self._lock = threading.Lock()
        # The local copy pybreaker reads and writes.
        self._state, self._counter, self._successes = pybreaker.STATE_CLOSED, 0, 0
        self._opened_at: datetime | None = None
        # What changed here since the last push.
        self._failures, self._reset, self._changed = 0, False, False
        self.shared = False  # the last sync reached Redis
        self.sync()  # the shared state before the first call (at start-up, not on the loop)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="breaker-sync", daemon=True)
        self._thread.start()

    # -- pybreaker's storage interface: the local copy only -----------------------------------

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, state: str) -> None:
        with self._lock:
            self._state, self._changed = state, True

    def increment_counter(self) -> None:
        with self._lock:
            self._counter += 1
            self._failures += 1

    def reset_counter(self) -> None:
        with self._lock:
            self._counter, self._failures, self._reset = 0, 0, True

    def increment_success_counter(self) -> None:
        self._successes += 1

    def reset_success_counter(self) -> None:
        self._successes = 0

    @property
    def counter(self) -> int:
        return self._counter

    @property
    def success_counter(self) -> int:
        return self._successes

    @property
    def opened_at(self) -> datetime | None:
        return self._opened_at

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        with self._lock:
            self._opened_at, self._changed = now, True

    # -- the sync -----------------------------------------------------------------------------

    def sync(self) -> None:
        """Push what changed here, then take the shared state."""
        with self._lock:
            failures, reset, changed = self._failures, self._reset, self._changed
            state, opened = self._state, self._opened_at
            self._failures, self._reset, self._changed = 0, False, False
        state_key, counter_key, opened_key = self._keys
        try:
            pipe = self._redis.pipeline(transaction=False)
            if reset:
                pipe.set(counter_key, 0)
            if failures:
                pipe.incrby(counter_key, failures)
            if changed:
                pipe.set(state_key, state)
                pipe.set(opened_key, opened.timestamp() if opened else "")
            pipe.mget(*self._keys)
            shared_state, counter, opened_at = pipe.execute()[-1]
        except redis.RedisError:
            # The local copy goes on alone. A state change is pushed again at the next sync
            # (SET is idempotent), or other processes would never learn that this one opened;
            # failure counts are dropped, since a timed-out INCRBY may well have been applied.
            self.shared = False
            with self._lock:
                self._changed = self._changed or changed
            return
        self.shared = True
        with self._lock:
            if not self._changed and shared_state is not None:  # no newer change here
                self._state = shared_state.decode()
                self._opened_at = (datetime.fromtimestamp(float(opened_at), UTC)
                                   if opened_at else None)
            if not self._reset:
                self._counter = int(counter or 0) + self._failures

    def _run(self) -> None:
        while not self._stop.wait(self._sync_s):
            self.sync()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
