"""Publishing a policy: propose, four eyes, audited records with the diff, history, replay
loading, hot reload."""

import orjson
import pytest

from audit.records import parse_record
from audit.sqlite import SQLiteAuditStore
from audit.store import AuditUnavailable
from decision.application import COUNTRIES
from decision.policy import Policy, PolicyHolder
from strategy.admin import PolicyAdmin
from strategy.errors import InvalidPolicyChange, PolicyConflict, PolicyNotFound, SameApprover
from strategy.live import PolicyReloader
from strategy.sqlite import SQLitePolicyStore

BUNDLED = Policy.load()


def draft(version="2026.12.1", pt="0.20") -> str:
    return (BUNDLED.text or "").replace('version = "2026.11.3"', f'version = "{version}"') \
        .replace("approve_below = 0.22", f"approve_below = {pt}")


@pytest.fixture
def audit(tmp_path):
    store = SQLiteAuditStore(tmp_path / "audit.db")
    yield store
    store.close()


@pytest.fixture
def store(tmp_path):
    s = SQLitePolicyStore(tmp_path / "policies.db")
    yield s
    s.close()


@pytest.fixture
def admin(store, audit):
    return PolicyAdmin(store, audit, BUNDLED, COUNTRIES)


def records(audit):
    return [parse_record(e.body) for e in audit.entries()]


def test_propose_then_approve_by_another_key_goes_live_and_is_audited(admin, audit):
    """Proposed: not live; approved by a second key: live. Two records, each with who, when,
    why, the previous live version and the diff; the proposal keeps the whole document."""
    assert admin.live_version() == BUNDLED.version
    admin.propose(draft(), reason="PT bad rate too high", actor="ana", actor_id="key:a")
    assert admin.live_version() == BUNDLED.version
    v = admin.approve("2026.12.1", reason="backtest checked", actor="bo", actor_id="key:b")
    assert (v.state, v.approved_by, v.based_on) == ("live", "bo", BUNDLED.version)
    assert admin.live().params("PT")["approve_below"] == 0.20
    propose, approve = records(audit)
    assert (propose.action, propose.actor_id, propose.reason, propose.previous) == \
        ("propose", "key:a", "PT bad rate too high", BUNDLED.version)
    assert propose.text == draft() and propose.at
    assert "-approve_below = 0.22\n+approve_below = 0.20" in propose.diff
    assert (approve.action, approve.actor, approve.text) == ("approve", "bo", None)
    assert "+approve_below = 0.20" in approve.diff


def test_the_proposer_cannot_approve(admin, audit):
    """Four eyes: the same key is refused, nothing goes live, nothing more is audited."""
    admin.propose(draft(), reason="tighten PT", actor="ana", actor_id="key:a")
    with pytest.raises(SameApprover):
        admin.approve("2026.12.1", reason="me again", actor="ana", actor_id="key:a")
    assert admin.live_version() == BUNDLED.version
    assert [r.action for r in records(audit)] == ["propose"]


@pytest.mark.parametrize("text, reason, match", [
    ("not = [toml", "valid reason", "TOML"),
    (draft().replace("decline_at = 0.55", "decline_at = 0.10"), "valid reason", "decline_at"),
    (draft(), "  ", "reason"),
])
def test_invalid_proposals_are_refused_unaudited(admin, audit, text, reason, match):
    with pytest.raises(InvalidPolicyChange, match=match):
        admin.propose(text, reason=reason, actor="ana", actor_id="key:a")
    assert records(audit) == []


def test_a_version_cannot_be_reused(admin):
    """The bundled version and a proposed one are both taken."""
    with pytest.raises(PolicyConflict):
        admin.propose(BUNDLED.text or "", reason="again", actor="a", actor_id="a")
    admin.propose(draft(), reason="first", actor="a", actor_id="a")
    with pytest.raises(PolicyConflict):
        admin.propose(draft(pt="0.21"), reason="second", actor="b", actor_id="b")


def test_approval_against_a_stale_live_version_is_refused(admin):
    """Two proposals reviewed against the bundled version: once one is live, approving the
    other against the old live version is a conflict."""
    admin.propose(draft("v2"), reason="one", actor="a", actor_id="a")
    admin.propose(draft("v3", pt="0.21"), reason="two", actor="a", actor_id="a")
    admin.approve("v2", reason="ok one", actor="b", actor_id="b")
    with pytest.raises(PolicyConflict):
        admin.approve("v3", reason="ok two", actor="b", actor_id="b",
                      expected_live=BUNDLED.version)
    with pytest.raises(PolicyConflict):  # already live
        admin.approve("v2", reason="twice", actor="c", actor_id="c")
    with pytest.raises(PolicyNotFound):
        admin.approve("v9", reason="unknown", actor="c", actor_id="c")


class DownAudit:
    """An AuditStore that cannot append (our Protocol)."""

    chain_id = "down"

    def append(self, record, *, application_id=None, decision_id=None):
        raise OSError("disk full")


def test_no_audit_no_change(store):
    admin = PolicyAdmin(store, DownAudit(), BUNDLED, COUNTRIES)
    with pytest.raises(AuditUnavailable):
        admin.propose(draft(), reason="tighten PT", actor="a", actor_id="a")
    assert store.versions() == []


def test_history_and_policy_for_replay(admin):
    """The history starts with the bundled version; every version stays loadable (replay),
    also once retired; an unknown one is not found."""
    admin.propose(draft(), reason="tighten PT", actor="a", actor_id="a")
    admin.approve("2026.12.1", reason="fine", actor="b", actor_id="b")
    h = admin.history()
    assert [(v.version, v.state) for v in h] == [(BUNDLED.version, "retired"),
                                                  ("2026.12.1", "live")]
    assert admin.policy(BUNDLED.version).params("PT")["approve_below"] == 0.22
    assert admin.policy("2026.12.1").params("PT")["approve_below"] == 0.20
    with pytest.raises(PolicyNotFound):
        admin.policy("1999.1")


def test_diff_names_the_effective_changes(admin):
    admin.propose(draft(), reason="tighten PT", actor="a", actor_id="a")
    d = admin.diff(BUNDLED.version, "2026.12.1")
    assert [(c.scope, c.key, c.before, c.after) for c in d.params] == \
        [("PT", "approve_below", 0.22, 0.20)]
    assert d.text.startswith(f"--- {BUNDLED.version}")


def test_reloader_swaps_the_holder_on_approval(admin):
    """A worker's holder follows the live version at its next check, not before approval."""
    holder = PolicyHolder(admin.live())
    reloader = PolicyReloader(admin, holder, interval_s=0)
    admin.propose(draft(), reason="tighten PT", actor="a", actor_id="a")
    assert reloader.check_once() is False and holder.version == BUNDLED.version
    admin.approve("2026.12.1", reason="fine", actor="b", actor_id="b")
    assert reloader.check_once() is True and holder.version == "2026.12.1"
    assert reloader.check_once() is False


def test_audit_records_carry_type_and_schema_version(admin, audit):
    admin.propose(draft(), reason="tighten PT", actor="a", actor_id="a")
    body = orjson.loads(next(iter(audit.entries())).body)
    assert body["type"] == "policy_change" and body["schema_version"] == 1


def test_reloader_thread_serves_an_approval_within_its_interval(admin):
    """The polling thread, started as the API starts it: an approval another process made is
    served within a few intervals; a store that fails keeps the current policy."""
    import time

    holder = PolicyHolder(admin.live())
    reloader = PolicyReloader(admin, holder, interval_s=0.05)
    reloader.start()
    try:
        admin.propose(draft(), reason="tighten PT", actor="a", actor_id="a")
        admin.approve("2026.12.1", reason="fine", actor="b", actor_id="b")
        deadline = time.monotonic() + 2
        while holder.version != "2026.12.1":
            assert time.monotonic() < deadline, "not reloaded within 2 s"
            time.sleep(0.02)
        admin.store.close()  # the store goes away: the thread logs and keeps serving
        time.sleep(0.2)
        assert holder.version == "2026.12.1"
    finally:
        reloader.stop()
