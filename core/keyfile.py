"""Local key files (data_dir/keys), created once on first use.

Every worker of a first start reaches here at the same moment. A new key is written whole
under a temporary name in the same directory (mode 0600 from its creation), then linked
into place, which fails if another process got there first: every process then reads the
one key that won, never a half-written file or a key of its own that the others do not
have (a pseudonym key, a digest-signing key, the console's session key).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path


def _random_key() -> bytes:
    return secrets.token_bytes(32)


def load_or_create(path: Path, make: Callable[[], bytes] = _random_key,
                   mode: int = 0o600) -> bytes:
    """The bytes of `path`, created from `make()` if it does not exist yet (with `mode`:
    a public half may be readable by others)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(make())
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process won: its key counts
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_bytes()
