"""What every command shares: the builder (the same wiring as the API) and a console."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from app.builder import Builder
from app.settings import Settings

console = Console(stderr=True, soft_wrap=True)


@contextmanager
def built() -> Iterator[Builder]:
    """The parts this command uses, chosen by settings as the API chooses them, closed after."""
    builder = Builder(Settings())
    try:
        yield builder
    finally:
        builder.close()
