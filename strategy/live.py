"""Hot reload of the live policy on every worker, as models/reloader.py does for the model.

A daemon thread polls the policy history's live version (one small row) every `interval_s`;
a new version is parsed in that thread (never on the event loop) and swapped into the
`PolicyHolder` with one assignment. A failing store leaves the current policy serving and is
retried at the next poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from decision.policy import PolicyHolder
from strategy.admin import PolicyAdmin

log = logging.getLogger(__name__)


class PolicyReloader:
    def __init__(self, admin: PolicyAdmin, holder: PolicyHolder, interval_s: float,
                 on_swap: Callable[[str, str], None] | None = None) -> None:
        self.admin = admin
        self.holder = holder
        self.interval_s = interval_s
        self.on_swap = on_swap
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> bool:
        """Swap in the live version if it changed; True when a swap happened."""
        version = self.admin.live_version()
        old = self.holder.version
        if version == old:
            return False
        self.holder.current = self.admin.policy(version)
        log.info("policy swapped", extra={"from": old, "to": version})
        if self.on_swap:
            self.on_swap(old, version)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_once()
            except Exception:  # the store may be briefly unreachable; keep serving
                log.exception("policy reload check failed; keeping version %s",
                              self.holder.version)

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="policy-reloader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
