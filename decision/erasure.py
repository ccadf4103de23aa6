"""Erasure of a customer (GDPR Art. 17) by crypto-shredding, after any legal retention period.

Carried out: the customer's data key is destroyed with the key store's entry that linked them
to it, so every record of theirs stays in the log (verification still passes) with nothing
readable or linkable in it; the feature store's cached bureau and open-banking answers under
their national-id pseudonyms and their velocity counters are deleted. Each step is an audited
record naming only the random key_ref: `erasure` started, then done (or failed, with the
error type), as flag changes are recorded (the log never claims an erasure that did not
happen). During a retention period (`hold_days` > 0) the request is recorded
(`erasure_requested`) and carried out by `run_due` once due.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from audit.governance_records import Erasure, ErasureRequested
from audit.keystore import CustomerKeyStore
from audit.pii import Pseudonymizer
from audit.record import now_stamp
from audit.records import to_json
from audit.store import AuditStore, AuditUnavailable
from feature_store.protocol import FeatureStore
from feature_store.velocity import Velocity
from sources.cached import response_set

CACHED_SOURCES = ("bureau", "open_banking")


@dataclass
class ErasureResult:
    status: str  # erased | scheduled | nothing_held
    key_ref: str | None = None
    due_at: str | None = None
    removed: dict[str, int] = field(default_factory=dict)


class Eraser:
    def __init__(self, keys: CustomerKeyStore, pseudonymizer: Pseudonymizer,
                 features: FeatureStore, velocity: Velocity, audit: AuditStore) -> None:
        self.keys = keys
        self.pseudonymizer = pseudonymizer
        self.features = features
        self.velocity = velocity
        self.audit = audit

    def request(self, customer_id: str, *, hold_days: int, actor: str,
                reason: str) -> ErasureResult:
        """Erase now (hold_days 0) or schedule the erasure for when the hold ends."""
        ref = self.pseudonymizer.customer_ref(customer_id)
        key = self.keys.get(ref)
        if key is None or hold_days <= 0:
            return self._erase(ref, actor, reason)
        due = (datetime.now(UTC) + timedelta(days=hold_days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self._record(ErasureRequested(key_ref=key.key_ref, at=now_stamp(), due_at=due,
                                      hold_days=hold_days, actor=actor, reason=reason))
        self.keys.schedule_erasure(ref, due)
        return ErasureResult("scheduled", key.key_ref, due)

    def run_due(self, *, actor: str) -> list[ErasureResult]:
        """Carry out every scheduled erasure whose retention period has ended."""
        return [self._erase(ref, actor, "retention period ended")
                for ref in self.keys.due_erasures(now_stamp())]

    def _erase(self, customer_ref: str, actor: str, reason: str) -> ErasureResult:
        key = self.keys.get(customer_ref)
        key_ref = key.key_ref if key else None
        self._record(Erasure(key_ref=key_ref, at=now_stamp(), status="started", actor=actor,
                             reason=reason))
        national_refs = list(key.national_refs) if key else []
        try:
            # The key last: until it is gone a failed erasure can be run again in full.
            removed = {f"{source}_cache": self.features.delete(response_set(source, 0),
                                                               national_refs)
                       for source in CACHED_SOURCES}
            removed["velocity"] = self.velocity.forget(customer_ref, national_refs)
            erased = self.keys.erase(customer_ref)
            removed["customer_keys"] = int(erased is not None)
        except Exception as exc:
            self._record(Erasure(key_ref=key_ref, at=now_stamp(), status="failed", actor=actor,
                                 reason=reason, error=type(exc).__name__))
            raise
        self._record(Erasure(key_ref=key_ref, at=now_stamp(), status="done", actor=actor,
                             reason=reason, removed=removed))
        return ErasureResult("erased" if erased else "nothing_held", key_ref, removed=removed)

    def _record(self, record: Erasure | ErasureRequested) -> None:
        try:
            self.audit.append(to_json(record))
        except Exception as exc:
            raise AuditUnavailable("the audit log could not record the erasure; "
                                   "nothing was erased") from exc
