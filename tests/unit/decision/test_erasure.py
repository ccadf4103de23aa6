"""Erasure (decision/erasure.py): at once, or held for a retention period and carried out
when due; every step on record; nothing claimed that did not happen."""

import secrets

import pytest

from audit.governance_records import Erasure, ErasureRequested
from audit.keystore import SQLiteCustomerKeyStore
from audit.pii import EnvelopeCipher, Pseudonymizer
from audit.records import parse_record
from audit.sqlite import SQLiteAuditStore
from decision.erasure import Eraser
from feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore
from feature_store.velocity import Velocity
from sources.cached import response_set


@pytest.fixture
def parts(tmp_path):
    keys = SQLiteCustomerKeyStore(tmp_path / "keys.db")
    pseudo = Pseudonymizer(secrets.token_bytes(32))
    features = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "features.db"))
    audit = SQLiteAuditStore(tmp_path / "audit.db")
    velocity = Velocity(features, pseudo)
    cipher = EnvelopeCipher([secrets.token_bytes(32)], keys)
    # What one decision leaves behind: a key, a cached bureau answer, velocity counters.
    cipher.key_for(pseudo.customer_ref("C-1"), pseudo.national_id("123Z"))
    features.put(response_set("bureau", 60), pseudo.national_id("123Z"), {"v": 1})
    velocity.record("C-1", "123Z")
    yield Eraser(keys, pseudo, features, velocity, audit), keys, pseudo, features, velocity, audit
    for s in (keys, features, audit):
        s.close()


def log(audit):
    return [parse_record(e.body) for e in audit.entries()]


def test_erase_at_once_removes_key_cache_and_counters(parts):
    eraser, keys, pseudo, features, velocity, audit = parts
    result = eraser.request("C-1", hold_days=0, actor="t", reason="asked")
    assert result.status == "erased" and result.removed["bureau_cache"] == 1
    assert keys.get(pseudo.customer_ref("C-1")) is None and keys.is_erased(result.key_ref)
    assert features.get(response_set("bureau", 60), pseudo.national_id("123Z")) is None
    assert sum(velocity.counts("C-1", "123Z").values()) == 0
    assert [(r.type, r.status) for r in log(audit)] == [("erasure", "started"),
                                                        ("erasure", "done")]


def test_a_held_erasure_is_recorded_then_carried_out_when_due(parts):
    eraser, keys, pseudo, features, velocity, audit = parts
    result = eraser.request("C-1", hold_days=30, actor="t", reason="asked")
    assert result.status == "scheduled" and result.due_at > "2026"
    assert keys.get(pseudo.customer_ref("C-1")) is not None  # kept during the hold
    assert eraser.run_due(actor="cron") == []  # not due yet
    requested = log(audit)[0]
    assert isinstance(requested, ErasureRequested) and requested.hold_days == 30
    keys.schedule_erasure(pseudo.customer_ref("C-1"), "2000-01-01T00:00:00.000000Z")
    [done] = eraser.run_due(actor="cron")
    assert done.status == "erased" and done.key_ref == requested.key_ref
    assert keys.get(pseudo.customer_ref("C-1")) is None
    assert [r.reason for r in log(audit) if isinstance(r, Erasure)] == \
        ["retention period ended"] * 2


def test_an_unknown_customer_is_recorded_as_nothing_held(parts):
    eraser, *_, audit = parts
    assert eraser.request("C-NEVER", hold_days=30, actor="t", reason="asked").status == \
        "nothing_held"
    assert [r.key_ref for r in log(audit)] == [None, None]


def test_a_failing_store_is_recorded_as_failed_and_the_key_kept(parts):
    """The feature store down mid-erasure: the log says started, then failed, and the key
    (with the pseudonyms the caches are found by) stays for a full retry."""
    eraser, keys, pseudo, features, velocity, audit = parts
    features.close()
    with pytest.raises(Exception):  # noqa: B017 - sqlite3.ProgrammingError, closed database
        eraser.request("C-1", hold_days=0, actor="t", reason="asked")
    assert [r.status for r in log(audit)] == ["started", "failed"]
    assert keys.get(pseudo.customer_ref("C-1")).national_refs
