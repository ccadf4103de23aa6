"""The audit store port. Backends, one per file: sqlite (embedded), dynamodb."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from audit.digest import Head
from audit.record import Entry


class AuditUnavailable(Exception):
    """The log could not durably record something, so it did not happen (no decision, no
    flag change)."""


class DuplicateApplication(Exception):
    """An entry for this application_id already exists (idempotency key taken)."""

    def __init__(self, application_id: str) -> None:
        super().__init__("application already decided")
        self.application_id = application_id


class AuditStore(Protocol):
    """A backend may also offer `reader`, a picklable callable taking entries()' arguments:
    with it, `verify_store` reads seq ranges in worker processes instead of threads."""

    chain_id: str

    def append(self, record: dict[str, Any], *, application_id: str | None = None,
               decision_id: str | None = None) -> Entry:
        """Durably append one record to this writer's chain; raises DuplicateApplication."""

    def get_decision(self, decision_id: str) -> Entry | None: ...

    def get_by_application(self, application_id: str) -> Entry | None: ...

    def entries(self, chain_id: str | None = None, from_seq: int | None = None,
                to_seq: int | None = None) -> Iterator[Entry]:
        """Entries (all, or one chain's seq range), chain by chain, in sequence order; an
        unset bound is open (a forged entry below seq 1 is read, so verify sees it)."""

    def heads(self) -> list[Head]:
        """Every chain's last entry, for signed digests."""

    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    def close(self) -> None: ...
