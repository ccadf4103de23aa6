"""Outcome ingestion: item by item, idempotent, every batch in the audit log."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from audit.governance_records import OutcomeBatch
from audit.records import parse_record
from audit.store import AuditUnavailable
from monitoring.ingest import OutcomeIngestor


def day(ingestor, offset=0):
    return (ingestor._today() + timedelta(days=offset)).isoformat()


def item(decision_id="D1", **kw):
    return {"decision_id": decision_id, "defaulted": False, "observed_at": kw.pop("at", None)
            or "2099-01-01", **kw}


def batches(audit):
    return [r for e in audit.entries() if isinstance(r := parse_record(e.body), OutcomeBatch)]


def test_good_items_are_kept_and_bad_ones_refused_on_their_own(ingestor, audit):
    """Each refused item carries its index and the reason; the others are stored."""
    today = day(ingestor)
    items = [item("D1", at=today),
             item("nope", at=today),                                 # unknown decision
             {"decision_id": "D2", "defaulted": "yes", "observed_at": today},  # not a boolean
             item("D2", at=day(ingestor, 2)),                       # in the future
             item("D3", at=day(ingestor, -1)),                      # before the decision
             item("D3", at=today, defaulted=True, loan_taken=False),  # contradiction
             item("D3", at=today, extra=1),                         # unknown field
             "not an object",
             item("D3", at=today, months_on_book=5)]
    out = ingestor.ingest(items, source="api", actor="tests", strict=True)
    assert (out.count, out.accepted, out.duplicates) == (9, 2, 0)
    errors = {r.index: r.error for r in out.rejected}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 7]
    assert "no such decision" in errors[1] and errors[2].startswith("defaulted:")
    assert "future" in errors[3] and "before the decision" in errors[4]
    assert "loan_taken is false" in errors[5] and errors[6].startswith("extra:")
    assert "object" in errors[7]
    assert "yes" not in errors[2]  # the value itself is never echoed


def test_the_batch_is_recorded_in_the_audit_log(ingestor, audit, outcome_store):
    """Source, actor, count, content hash and what was done: traceable to the data."""
    items = [item("D1", at=day(ingestor)), item("zzz", at=day(ingestor))]
    out = ingestor.ingest(items, source="api", actor="lending-app (key k1)", strict=True)
    [rec] = batches(audit)
    text = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert rec.content_sha256 == hashlib.sha256(text.encode()).hexdigest() == out.content_sha256
    assert (rec.batch_id, rec.actor, rec.source, rec.count) == (out.batch_id,
                                                                "lending-app (key k1)", "api", 2)
    assert (rec.accepted, rec.duplicates, rec.rejected) == (1, 0, 1)
    [stored] = outcome_store.batches()
    entry = [e for e in audit.entries() if b"outcome_batch" in e.body][0]
    assert stored.audit_ref == f"{entry.chain_id}/{entry.seq}"


def test_resending_changes_nothing_but_is_recorded(ingestor, audit, outcome_store):
    """The same batch again: every item a duplicate, one more audit record saying so."""
    items = [item("D1", at=day(ingestor)), item("D2", at=day(ingestor), defaulted=True)]
    first = ingestor.ingest(items, source="api", actor="t", strict=True)
    again = ingestor.ingest(items, source="api", actor="t", strict=True)
    assert (first.accepted, again.accepted, again.duplicates) == (2, 0, 2)
    assert [(b.accepted, b.duplicates) for b in batches(audit)] == [(2, 0), (0, 2)]
    assert len(outcome_store.history("D2")) == 1


def test_files_are_read_laxly_the_api_strictly(ingestor):
    """A file's text cells ("true", "1") are booleans; the API wants JSON booleans."""
    row = {"decision_id": "D1", "defaulted": "1", "observed_at": day(ingestor)}
    assert ingestor.ingest([row], source="api", actor="t", strict=True).accepted == 0
    assert ingestor.ingest([row], source="file", actor="t", strict=False).accepted == 1


def test_without_an_audit_record_nothing_is_stored(ingestor, audit, outcome_store):
    """The audit log failing (closed here) means the outcomes are not stored either."""
    audit.close()
    with pytest.raises(AuditUnavailable):
        OutcomeIngestor(audit, outcome_store, today=ingestor._today).ingest(
            [{"decision_id": "D1", "defaulted": False, "observed_at": "2026-01-01"}],
            source="api", actor="t", strict=True)
    assert outcome_store.batches() == [] and outcome_store.history("D1") == []


def test_one_day_ahead_is_allowed(ingestor):
    """A lender a time zone ahead may already be on tomorrow's date; two days is refused."""
    out = ingestor.ingest([item("D1", at=day(ingestor, 1)), item("D2", at=day(ingestor, 2))],
                          source="api", actor="t", strict=True)
    assert out.accepted == 1 and [r.index for r in out.rejected] == [1]
