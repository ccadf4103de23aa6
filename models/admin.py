"""Alias changes of the model registry, each an audited record: a registration, a promotion
(forced past failed gates or not), a rollback. The alias moves first (the registry refuses
what its rules forbid); if the audit log cannot record the change it is moved back, so no
alias change stands without its record."""

from __future__ import annotations

from collections.abc import Callable

from audit.governance_records import ModelAliasChange
from audit.records import to_json
from audit.store import AuditStore, AuditUnavailable
from models.registry import AliasEvent, ModelRegistry


class ModelAdmin:
    def __init__(self, registry: ModelRegistry, audit: AuditStore) -> None:
        self.registry = registry
        self.audit = audit

    def promote(self, version: str, *, who: str | None = None, reason: str = "",
                force: bool = False) -> AliasEvent:
        return self._audited(lambda: self.registry.promote(version, who=who, reason=reason,
                                                           force=force))

    def rollback(self, *, who: str | None = None, reason: str = "") -> AliasEvent:
        return self._audited(lambda: self.registry.rollback(who=who, reason=reason))

    def recorded(self, event: AliasEvent) -> AliasEvent:
        """Record an alias change made elsewhere (a training run registering its version)."""
        return self._audited(lambda: event)

    def _audited(self, change: Callable[[], AliasEvent]) -> AliasEvent:
        event = change()
        gates = self.registry.gates_passed(event.version)
        record = ModelAliasChange(
            model=self.registry.model_name, alias=event.alias, version=event.version,
            previous=event.previous, action=event.action,  # type: ignore[arg-type]
            gates="unchecked" if gates is None else "passed" if gates else "failed",
            forced=event.forced, who=event.who, why=event.why, at=event.when)
        try:
            self.audit.append(to_json(record))
        except Exception as exc:
            self.registry.restore_alias(event)
            raise AuditUnavailable("the audit log could not record this alias change; it was "
                                   "moved back") from exc
        return event
