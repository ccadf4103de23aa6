"""A daemon thread that calls `check_once` every `interval_s` (hot reloads of the model and
the policy): a failing check is logged and retried at the next poll, never stops serving."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Poller:
    name = "poller"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> bool:
        raise NotImplementedError

    def serving(self) -> str:
        """What keeps serving when a check fails (for the log line)."""
        return ""

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_once()
            except Exception:  # the store may be briefly unreachable; keep serving
                log.exception("%s check failed; keeping %s", self.name, self.serving())

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
