"""Changing a country's flag: validate, write the audit record, then apply to the store.

The audit record comes first: a change that could not be audited does not happen (as with
decisions). If applying then fails (a concurrent change, the store down), a second record
says so, so the history in the audit log never claims a change that did not take effect.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from audit.governance_records import FlagChange, FlagChangeFailed, FlagValue
from audit.records import to_json
from audit.store import AuditStore, AuditUnavailable
from feature_flags.model import CountryFlag, InvalidFlag, default_flag, percent_to_bp
from feature_flags.store import FlagStore, VersionConflict


class FlagStoreUnavailable(Exception):
    """The flag store could not be written; the change did not happen."""


class FlagAdmin:
    def __init__(self, store: FlagStore, audit: AuditStore, default_mode: str) -> None:
        self.store = store
        self.audit = audit
        self.default_mode = default_mode

    def current(self, country: str) -> CountryFlag:
        flag = self.store.load().get(country)
        return flag if flag is not None else default_flag(country, self.default_mode)

    def set(self, country: str, mode: str, percent: float | str | None, *, reason: str,
            actor: str) -> CountryFlag:
        if not reason.strip():
            raise InvalidFlag("a reason is required for every flag change")
        percent_bp = percent_to_bp(percent, mode)
        before = self.current(country)
        now = datetime.now(UTC).isoformat()
        wanted = CountryFlag(country, mode, percent_bp, before.version, now, actor, reason)
        change_id = secrets.token_hex(8)
        record = FlagChange(change_id=change_id, country=country, at=now, actor=actor,
                            reason=reason, before=_value(before),
                            after=_value(wanted, before.version + 1))
        try:
            self.audit.append(to_json(record))
        except Exception as exc:
            raise AuditUnavailable("the audit log could not record this flag change; "
                                   "nothing was changed") from exc
        try:
            return self.store.put(wanted, before.version)
        except Exception as exc:
            self.audit.append(to_json(FlagChangeFailed(
                change_id=change_id, country=country, at=datetime.now(UTC).isoformat(),
                actor=actor,
                intended_version=before.version + 1, error=type(exc).__name__)))
            if isinstance(exc, VersionConflict):
                raise
            raise FlagStoreUnavailable("the flag store could not be written") from exc


def _value(flag: CountryFlag, version: int | None = None) -> FlagValue:
    return FlagValue(mode=flag.mode, percent_bp=flag.percent_bp,
                     version=flag.version if version is None else version)
