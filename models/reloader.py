"""Hot reload: follow the registry's champion alias without a restart or a failed request.

`ScorerHolder.current` is the Scorer that new decisions use; each decision reads it once and
keeps that Scorer to the end (pinned), so a swap mid-decision cannot mix versions. A daemon
thread polls the alias; a new version is loaded and warmed in that thread (never on the event
loop) and then swapped in with one attribute assignment, which is atomic in Python. A failing
registry leaves the current model serving and is retried at the next poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from models.registry import ModelRegistry
from models.scorer import Scorer

log = logging.getLogger(__name__)


class ScorerHolder:
    def __init__(self, scorer: Scorer) -> None:
        self.current = scorer

    @property
    def version(self) -> str:
        return self.current.version


class ModelReloader:
    def __init__(self, registry: ModelRegistry, alias: str, holder: ScorerHolder,
                 interval_s: float, on_swap: Callable[[str, str], None] | None = None) -> None:
        self.registry = registry
        self.alias = alias
        self.holder = holder
        self.interval_s = interval_s
        self.on_swap = on_swap
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> bool:
        """Swap in the alias's version if it changed; True when a swap happened."""
        version = self.registry.version_for(self.alias)
        old = self.holder.current.version
        if version is None or version == old:
            return False
        scorer = Scorer(self.registry.load(version))
        # Warm-up: the first prediction of a fresh booster pays one-off set-up costs.
        scorer.score(np.full((1, len(scorer.feature_names)), np.nan))
        self.holder.current = scorer
        log.info("model swapped", extra={"alias": self.alias, "from": old, "to": version})
        if self.on_swap:
            self.on_swap(old, version)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_once()
            except Exception:  # the registry may be briefly unreachable; keep serving
                log.exception("model reload check failed; keeping version %s",
                              self.holder.current.version)

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="model-reloader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
