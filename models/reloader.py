"""Hot reload: follow the registry's champion alias without a restart or a failed request.

`ScorerHolder.current` is the Scorer that new decisions use; each decision reads it once and
keeps that Scorer to the end (pinned), so a swap mid-decision cannot mix versions. A daemon
thread polls the alias; a new version is loaded and warmed in that thread (never on the event
loop) and then swapped in with one attribute assignment, which is atomic in Python. A failing
registry leaves the current model serving and is retried at the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from core.poller import Poller
from models.registry import ModelRegistry
from models.scorer import Scorer

log = logging.getLogger(__name__)


class ScorerHolder:
    def __init__(self, scorer: Scorer) -> None:
        self.current = scorer

    @property
    def version(self) -> str:
        return self.current.version


class ModelReloader(Poller):
    name = "model-reloader"

    def __init__(self, registry: ModelRegistry, alias: str, holder: ScorerHolder,
                 interval_s: float, on_swap: Callable[[str, str], None] | None = None) -> None:
        self.registry = registry
        self.alias = alias
        self.holder = holder
        self.on_swap = on_swap
        super().__init__(interval_s)

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

    def serving(self) -> str:
        return f"version {self.holder.current.version}"
