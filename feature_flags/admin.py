"""Changing a country's flag: validate, write the audit record, then apply to the store.

The audit record comes first: a change that could not be audited does not happen (as with
decisions). If applying then fails (a concurrent change, the store down), a second record
says so, so the history in the audit log never claims a change that did not take effect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.errors import AuditUnavailable, Unavailable
from audit.store import AuditStore
from feature_flags.model import CountryFlag, InvalidFlag, default_flag, percent_to_bp
from feature_flags.store import FlagStore, VersionConflict

FLAG_RECORD_VERSION = 1


class FlagStoreUnavailable(Unavailable):
    code = "flag_store_unavailable"


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
        record: dict[str, Any] = {
            "type": "flag_change", "schema_version": FLAG_RECORD_VERSION, "country": country,
            "at": now, "actor": actor, "reason": reason,
            "from": _public(before), "to": {**_public(wanted), "version": before.version + 1},
        }
        try:
            self.audit.append(record)
        except Exception as exc:
            raise AuditUnavailable("the audit log could not record this flag change; "
                                   "nothing was changed") from exc
        try:
            return self.store.put(wanted, before.version)
        except Exception as exc:
            self.audit.append({"type": "flag_change_failed", "schema_version": FLAG_RECORD_VERSION,
                               "country": country, "at": datetime.now(UTC).isoformat(),
                               "actor": actor, "intended_version": before.version + 1,
                               "error": type(exc).__name__})
            if isinstance(exc, VersionConflict):
                raise
            raise FlagStoreUnavailable("the flag store could not be written") from exc


def _public(flag: CountryFlag) -> dict[str, Any]:
    return {"mode": flag.mode, "percent_bp": flag.percent_bp, "version": flag.version}
