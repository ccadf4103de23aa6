"""What every command shares: the builder (the same wiring as the API) and a console."""

from __future__ import annotations

import sys
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


def die_with_parent() -> None:
    """In a child process (before exec): end when its parent ends, however it ends (uvicorn
    re-raises SIGTERM after its shutdown, so a `finally` never runs; kill -9 neither)."""
    if sys.platform == "linux":
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
