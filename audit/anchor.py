"""Anchors: signed digests kept outside the log's trust domain, write-once.

Someone who can write the log's storage can delete its newest records *and* the newest
digests kept beside it; a digest also anchored where they cannot rewrite it still shows the
cut. The digest writer anchors every digest (each second by default), so at most the last
second before a crash is unproven; `credit audit verify` checks the log against the newest
anchored digest and says up to when completeness is proven.

Backends, one per file: `DirectoryAnchor` here (the embedded default: files created once,
read-only, in a directory that should live on storage the service cannot rewrite, e.g. a
WORM mount or a directory owned by another user: docs/threat-model.md) and
`audit/s3_anchor.py` (S3 Object Lock in compliance mode).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

import orjson
from pydantic import BaseModel

from audit.digest import Digest
from audit.record import canonical


class DigestAnchor(Protocol):
    def put(self, digest: Digest) -> None:
        """Anchor a digest; never overwrites an anchored one."""

    def latest(self) -> Digest | None:
        """The newest anchored digest (its signature is the caller's to check)."""

    def close(self) -> None: ...


def anchor_name(digest: Digest) -> str:
    """<YYYY>/<MM>/<DD>/<HH>/<issued_at>.json: the newest is found without listing all."""
    t = datetime.strptime(digest.issued_at, "%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{t:%Y/%m/%d/%H}/{digest.issued_at}.json"


class DirectoryAnchorConfig(BaseModel):
    type: Literal["directory"] = "directory"
    path: Path


class DirectoryAnchor:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def put(self, digest: Digest) -> None:
        target = self.path / anchor_name(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: an anchored digest is never replaced; 0o444: nor written to after.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            os.write(fd, canonical(digest.to_json()))
            os.fsync(fd)
        finally:
            os.close(fd)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new name survives a crash too
        finally:
            os.close(dir_fd)

    def latest(self) -> Digest | None:
        level = self.path
        for _ in range(4):  # year, month, day, hour: the newest directory at each level
            subdirs = sorted(p for p in level.iterdir() if p.is_dir()) if level.exists() else []
            if not subdirs:
                return None
            level = subdirs[-1]
        files = sorted(level.glob("*.json"))
        return Digest.from_json(orjson.loads(files[-1].read_bytes())) if files else None

    def close(self) -> None:
        pass
