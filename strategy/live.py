"""Hot reload of the live policy on every worker, as models/reloader.py does for the model.

A daemon thread polls the policy history's live version (one small row) every `interval_s`;
a new version is parsed in that thread (never on the event loop) and swapped into the
`PolicyHolder` with one assignment. A failing store leaves the current policy serving and is
retried at the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.poller import Poller
from decision.policy import PolicyHolder
from strategy.admin import PolicyAdmin

log = logging.getLogger(__name__)


class PolicyReloader(Poller):
    name = "policy-reloader"

    def __init__(self, admin: PolicyAdmin, holder: PolicyHolder, interval_s: float,
                 on_swap: Callable[[str, str], None] | None = None) -> None:
        self.admin = admin
        self.holder = holder
        self.on_swap = on_swap
        super().__init__(interval_s)

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

    def serving(self) -> str:
        return f"version {self.holder.version}"
