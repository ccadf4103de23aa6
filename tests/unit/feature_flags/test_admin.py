import orjson
import pytest

from audit.sqlite import SQLiteAuditStore
from audit.store import AuditUnavailable
from feature_flags.admin import FlagAdmin
from feature_flags.file import FileFlagStore
from feature_flags.model import InvalidFlag
from feature_flags.store import VersionConflict


@pytest.fixture
def audit(tmp_path):
    store = SQLiteAuditStore(tmp_path / "audit.db")
    yield store
    store.close()


def records(audit):
    return [orjson.loads(e.body) for e in audit.entries()]


def test_change_is_audited_with_who_when_what_why(tmp_path, audit):
    admin = FlagAdmin(FileFlagStore(tmp_path / "flags.json"), audit, "full")
    flag = admin.set("ES", "canary", "20", reason="pilot ES at 20%", actor="risk:ana")
    assert (flag.mode, flag.percent_bp, flag.version, flag.updated_by) == ("canary", 2000, 1, "risk:ana")
    admin.set("ES", "legacy", None, reason="kill switch: incident 42", actor="oncall:bo")
    recs = records(audit)
    assert [r["type"] for r in recs] == ["flag_change", "flag_change"]
    first, second = recs
    assert first["actor"] == "risk:ana" and first["reason"] == "pilot ES at 20%" and first["at"]
    assert first["from"] == {"mode": "full", "percent_bp": 10000, "version": 0}
    assert first["to"] == {"mode": "canary", "percent_bp": 2000, "version": 1}
    assert second["from"]["mode"] == "canary" and second["to"]["mode"] == "legacy"
    assert admin.current("ES").version == 2


def test_invalid_change_is_refused_and_not_audited(tmp_path, audit):
    admin = FlagAdmin(FileFlagStore(tmp_path / "flags.json"), audit, "full")
    with pytest.raises(InvalidFlag):
        admin.set("ES", "canary", "20.001", reason="x" * 5, actor="a")
    with pytest.raises(InvalidFlag, match="reason"):
        admin.set("ES", "full", None, reason="  ", actor="a")
    assert records(audit) == []


class DownAudit:
    """An AuditStore that cannot append (our Protocol)."""

    chain_id = "down"

    def append(self, record, *, application_id=None, decision_id=None):
        raise OSError("disk full")


def test_no_audit_no_change(tmp_path):
    store = FileFlagStore(tmp_path / "flags.json")
    admin = FlagAdmin(store, DownAudit(), "full")
    with pytest.raises(AuditUnavailable):
        admin.set("ES", "legacy", None, reason="kill", actor="a")
    assert store.load() == {}


class RacingStore(FileFlagStore):
    """A file store where another admin writes between our read and our write."""

    def put(self, flag, expected_version):
        if not getattr(self, "raced", False):
            self.raced = True
            super().put(flag, expected_version)
        return super().put(flag, expected_version)


def test_lost_race_is_recorded_as_failed(tmp_path, audit):
    admin = FlagAdmin(RacingStore(tmp_path / "flags.json"), audit, "full")
    with pytest.raises(VersionConflict):
        admin.set("ES", "shadow", None, reason="observe", actor="a")
    assert [r["type"] for r in records(audit)] == ["flag_change", "flag_change_failed"]


def test_history_of_10_concurrent_changes_shows_which_took_effect(tmp_path, audit):
    """10 changes race: the history lists all 10, exactly those that got 409 as not applied
    (it used to show the 7 lost ones as if they had happened)."""
    from concurrent.futures import ThreadPoolExecutor

    from feature_flags.history import flag_history

    store = FileFlagStore(tmp_path / "flags.json")
    admin = FlagAdmin(store, audit, "full")

    def change(i):
        try:
            admin.set("ES", "canary", str(i + 1), reason=f"ramp {i}", actor=f"a{i}")
            return True
        except VersionConflict:
            return False

    with ThreadPoolExecutor(10) as pool:
        applied = list(pool.map(change, range(10)))
    history = flag_history(audit.entries(), "ES")
    assert len(history) == 10
    shown = sorted((h.change.actor, h.failed is None) for h in history)
    assert shown == sorted((f"a{i}", ok) for i, ok in enumerate(applied))
    assert {h.failed for h in history if h.failed} <= {"VersionConflict"}
    assert store.load()["ES"].version == sum(applied)
