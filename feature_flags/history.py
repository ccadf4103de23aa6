"""The history of flag changes, from the audit log: each `flag_change` with whether it took
effect (a `flag_change_failed` after it says it did not, and why)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from audit.governance_records import FlagChange, FlagChangeFailed
from audit.record import Entry
from audit.records import parse_record


@dataclass(frozen=True)
class HistoryItem:
    change: FlagChange
    failed: str | None  # the error that kept it from taking effect; None: applied

    @property
    def at(self) -> str:
        return self.change.at

    @property
    def country(self) -> str:
        return self.change.country


def flag_history(entries: Iterable[Entry], country: str | None = None) -> list[HistoryItem]:
    """Newest first. A failure names its change (schema 2); one of schema 1 names only the
    version its change meant to make, and is matched to a change with that target."""
    changes: list[FlagChange] = []
    failures: dict[object, list[str]] = {}
    for e in entries:
        if b'"type":"flag_change' not in e.body:  # both types, canonical JSON has no spaces
            continue
        rec = parse_record(e.body)
        if country and rec.country != country:
            continue
        if isinstance(rec, FlagChange):
            changes.append(rec)
        elif isinstance(rec, FlagChangeFailed):
            failures.setdefault(rec.change_id or (rec.country, rec.intended_version),
                                []).append(rec.error)
    items = []
    for c in changes:
        errors = failures.get(c.change_id or (c.country, c.after.version)) or []
        items.append(HistoryItem(c, errors.pop() if errors else None))
    return sorted(items, key=lambda h: h.at, reverse=True)
