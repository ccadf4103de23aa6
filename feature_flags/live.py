"""The in-memory view of the flags that the decision path reads (no I/O per decision).

A daemon thread polls the store's version token every `poll_interval_s` and reloads on a
change, so a change (the kill switch included) reaches every worker within one interval
plus one load. If the store cannot be read, the last good snapshot stays in force and the
failure is counted; the decision path never waits on the flag store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from feature_flags.model import CountryFlag, default_flag
from feature_flags.store import FlagStore

log = logging.getLogger(__name__)


class LiveFlags:
    def __init__(self, store: FlagStore, default_mode: str, poll_interval_s: float = 0.2,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self.store = store
        self.default_mode = default_mode
        self.poll_interval_s = poll_interval_s
        self._on_error = on_error
        self._flags: dict[str, CountryFlag] = {}
        self._token: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loaded_at: float | None = None

    def get(self, country: str) -> CountryFlag:
        flag = self._flags.get(country)
        return flag if flag is not None else default_flag(country, self.default_mode)

    def all(self) -> dict[str, CountryFlag]:
        return dict(self._flags)

    def refresh(self, force: bool = False) -> bool:
        """Reload if the store's version moved; True when a new snapshot was taken."""
        token = self.store.version()
        if token == self._token and not force:
            return False
        flags = self.store.load()
        self._flags, self._token = flags, token  # one reference swap: readers never see a mix
        self.loaded_at = time.monotonic()
        return True

    def start(self) -> None:
        try:
            self.refresh(force=True)
        except Exception as exc:  # start on defaults; the poller keeps trying
            self._failed(exc)
        self._thread = threading.Thread(target=self._run, name="flags-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.refresh()
            except Exception as exc:
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        log.warning("flag store unreadable, keeping the last snapshot: %s", type(exc).__name__)
        if self._on_error is not None:
            self._on_error(exc)
