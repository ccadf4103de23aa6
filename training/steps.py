"""Named pipeline steps: timed, reported to a progress display, summarised in one line each."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

STEPS = ("load", "validate", "features", "split", "tune", "train", "cross_validate",
         "calibrate", "evaluate", "reference", "legacy", "cutoffs", "fairness", "gates", "explain",
         "register", "card")


@dataclass
class Steps:
    on_start: Callable[[str], None] = lambda _name: None
    on_end: Callable[[str, float, str], None] = lambda _name, _s, _note: None
    seconds: dict[str, float] = field(default_factory=dict)
    _note: str = ""

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self._note = ""
        self.on_start(name)
        t = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - t
        self.on_end(name, self.seconds[name], self._note)

    def note(self, text: str) -> None:
        """A one-line summary of the running step's output, shown when it ends."""
        self._note = text
