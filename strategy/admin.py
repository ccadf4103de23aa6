"""Publishing a policy: propose, approve (a second person), history, diff. Maker-checker.

Each change is an audit record first (who, when, why, the diff against the live version),
then applied to the policy history: a change that could not be audited does not happen. If
applying then fails (a conflict, the store down), a second record says so, as for flags.

The bundled policy (decision/policy_rules.toml) is the first version of every history: live
until a first approval, and loadable by replay forever.
"""

from __future__ import annotations

import difflib
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit.governance_records import PolicyChange, PolicyChangeFailed
from audit.records import to_json
from audit.store import AuditStore, AuditUnavailable
from decision.policy import InvalidPolicy, Policy
from strategy.errors import (
    InvalidPolicyChange,
    PolicyConflict,
    PolicyNotFound,
    SameApprover,
)
from strategy.model import PolicyVersion, sha256
from strategy.store import PolicyStore

BUNDLED = "bundled"  # proposer of the bundled version in the history


@dataclass(frozen=True)
class ParamChange:
    scope: str  # "defaults" or a country
    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class PolicyDiff:
    a: str
    b: str
    text: str  # unified diff of the two documents
    params: list[ParamChange]  # effective values that differ, per country


class PolicyAdmin:
    def __init__(self, store: PolicyStore, audit: AuditStore, bundled: Policy,
                 countries: tuple[str, ...]) -> None:
        if bundled.text is None:
            raise ValueError("the bundled policy must come from its document")
        self.store = store
        self.audit = audit
        self.bundled = bundled
        self.countries = countries
        self._cache: dict[str, Policy] = {bundled.version: bundled}
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------

    def live_version(self) -> str:
        return self.store.live_version() or self.bundled.version

    def policy(self, version: str) -> Policy:
        """That version's rules (from the history; kept once parsed: versions never change)."""
        with self._lock:
            if version in self._cache:
                return self._cache[version]
        stored = self.store.get(version)
        if stored is None:
            raise PolicyNotFound(f"no policy version {version!r} in the history")
        policy = Policy.from_text(stored.text)
        with self._lock:
            self._cache[version] = policy
        return policy

    def live(self) -> Policy:
        return self.policy(self.live_version())

    def get(self, version: str) -> PolicyVersion:
        if version == self.bundled.version:
            return self._bundled_entry()
        stored = self.store.get(version)
        if stored is None:
            raise PolicyNotFound(f"no policy version {version!r} in the history")
        return stored

    def history(self) -> list[PolicyVersion]:
        """The bundled version, then every stored one, oldest first."""
        return [self._bundled_entry(), *self.store.versions()]

    def _bundled_entry(self) -> PolicyVersion:
        text = self.bundled.text or ""
        state = "live" if self.store.live_version() is None else "retired"
        return PolicyVersion(version=self.bundled.version, text=text, sha256=sha256(text),
                             state=state, based_on=None, proposed_by=BUNDLED,
                             proposed_by_id=BUNDLED, proposed_at="",
                             proposal_reason="shipped with the code")

    def diff(self, a: str, b: str) -> PolicyDiff:
        va, vb = self.get(a), self.get(b)
        text = "".join(difflib.unified_diff(va.text.splitlines(keepends=True),
                                            vb.text.splitlines(keepends=True),
                                            fromfile=a, tofile=b))
        return PolicyDiff(a, b, text, param_changes(self.policy(a), self.policy(b),
                                                    self.countries))

    # -- changing ----------------------------------------------------------------------------

    def propose(self, text: str, *, reason: str, actor: str, actor_id: str) -> PolicyVersion:
        _need_reason(reason)
        try:
            policy = Policy.from_text(text)
        except InvalidPolicy as exc:
            raise InvalidPolicyChange(str(exc)) from None
        if policy.version == self.bundled.version or self.store.get(policy.version):
            raise PolicyConflict(f"policy version {policy.version!r} exists already; "
                                 "bump `version`")
        live = self.live_version()
        now = _now()
        proposal = PolicyVersion(version=policy.version, text=text, sha256=sha256(text),
                                 state="proposed", based_on=live, proposed_by=actor,
                                 proposed_by_id=actor_id, proposed_at=now,
                                 proposal_reason=reason)
        change_id = self._record("propose", proposal, live, actor, actor_id, reason, now,
                                 text=text)
        self._apply(change_id, proposal.version, actor, lambda: self.store.add(proposal))
        return proposal

    def approve(self, version: str, *, reason: str, actor: str, actor_id: str,
                expected_live: str | None = None) -> PolicyVersion:
        """Make a proposal live. `expected_live`: the live version the approver reviewed
        against (default: the one live now)."""
        _need_reason(reason)
        proposal = self.store.get(version)
        if proposal is None:
            raise PolicyNotFound(f"no proposed policy version {version!r}")
        if proposal.state != "proposed":
            raise PolicyConflict(f"policy version {version!r} is {proposal.state}, not a "
                                 "proposal")
        if proposal.proposed_by_id == actor_id:
            raise SameApprover("four eyes: the proposer of a policy version cannot approve "
                               "it; another person must")
        live = self.store.live_version()
        seen = expected_live if expected_live is not None else (live or self.bundled.version)
        if seen != (live or self.bundled.version):
            raise PolicyConflict(f"the live policy is {live or self.bundled.version}, not "
                                 f"{seen}; review the proposal against it again")
        now = _now()
        approved = proposal.model_copy(update={
            "state": "live", "approved_by": actor, "approved_by_id": actor_id,
            "approved_at": now, "approval_reason": reason})
        change_id = self._record("approve", approved, live or self.bundled.version, actor,
                                 actor_id, reason, now)
        self._apply(change_id, version, actor, lambda: self.store.approve(approved, live))
        return approved

    def _record(self, action: str, v: PolicyVersion, previous: str, actor: str,
                actor_id: str, reason: str, at: str, text: str | None = None) -> str:
        before = self.get(previous).text if previous else ""
        diff = "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                            v.text.splitlines(keepends=True),
                                            fromfile=previous, tofile=v.version))
        change_id = secrets.token_hex(8)
        record = PolicyChange(change_id=change_id, action=action,  # type: ignore[arg-type]
                              version=v.version, sha256=v.sha256, previous=previous,
                              actor=actor, actor_id=actor_id, reason=reason, at=at, diff=diff,
                              text=text)
        try:
            self.audit.append(to_json(record))
        except Exception as exc:
            raise AuditUnavailable("the audit log could not record this policy change; "
                                   "nothing was changed") from exc
        return change_id

    def _apply(self, change_id: str, version: str, actor: str, apply: Any) -> None:
        try:
            apply()
        except Exception as exc:
            self.audit.append(to_json(PolicyChangeFailed(
                change_id=change_id, version=version, at=_now(), actor=actor,
                error=type(exc).__name__)))
            raise


def param_changes(a: Policy, b: Policy, countries: tuple[str, ...]) -> list[ParamChange]:
    """Effective values (defaults merged with each country's overrides) that differ."""
    out: list[ParamChange] = []
    da, db = a.params("defaults"), b.params("defaults")
    for scope in ("defaults", *countries):
        pa, pb = a.params(scope), b.params(scope)
        for key in sorted(set(pa) | set(pb)):
            pair = (pa.get(key), pb.get(key))
            if pair[0] == pair[1]:
                continue
            if scope != "defaults" and pair == (da.get(key), db.get(key)):
                continue  # the change of the defaults, inherited: said once
            out.append(ParamChange(scope, key, *pair))
    return out


def _need_reason(reason: str) -> None:
    if len(reason.strip()) < 3:
        raise InvalidPolicyChange("a reason (3 characters or more) is required for every "
                                  "policy change")


def _now() -> str:
    return datetime.now(UTC).isoformat()
