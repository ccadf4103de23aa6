"""The policy history port. Backends, one per file: sqlite (embedded), postgres (shared by
every instance). Every backend passes tests/contract/test_policy_store.py.

A backend keeps versions and enforces three things: a version is added once, at most one
version is live, and an approval is a compare-and-set (the proposal is still a proposal and
the live version is still the one the approver saw). Its own errors surface as
strategy.errors.PolicyStoreUnavailable.
"""

from __future__ import annotations

from typing import Protocol

from strategy.model import PolicyVersion


class PolicyStore(Protocol):
    def add(self, version: PolicyVersion) -> None:
        """Insert a proposal; PolicyConflict when that version exists."""

    def get(self, version: str) -> PolicyVersion | None: ...

    def versions(self) -> list[PolicyVersion]:
        """Every version, oldest proposal first."""

    def live_version(self) -> str | None:
        """The live version's name (what every worker polls: one small row)."""

    def approve(self, approved: PolicyVersion, expected_live: str | None) -> None:
        """Make `approved` (state live, approval fields set) the live version and retire the
        previous one, if the stored version is still a proposal and the live version is still
        `expected_live`; PolicyConflict otherwise."""

    def ping(self) -> None: ...

    def close(self) -> None: ...
