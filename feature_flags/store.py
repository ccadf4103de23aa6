"""The flag store port. Backends, one per file: file (embedded default), redis (several
instances). Readers keep an in-memory snapshot (feature_flags.live) refreshed when the cheap
`version()` token changes, so the decision path never does I/O for a flag."""

from __future__ import annotations

from typing import Protocol

from feature_flags.model import CountryFlag


class VersionConflict(Exception):
    """The flag changed since the caller read it (optimistic concurrency)."""


class FlagStore(Protocol):
    def version(self) -> str:
        """A token that changes whenever any flag changes (cheap: polled several times a s)."""

    def load(self) -> dict[str, CountryFlag]:
        """Every country's stored flag."""

    def put(self, flag: CountryFlag, expected_version: int) -> CountryFlag:
        """Store `flag` as version expected_version + 1 if the stored version is still
        expected_version (0 = never set); raise VersionConflict otherwise."""

    def ping(self) -> None: ...

    def close(self) -> None: ...
