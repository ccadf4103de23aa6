"""An audit log with a few decisions and an outcome store, both real SQLite files."""

from __future__ import annotations

from datetime import date

import pytest

from audit.sqlite import SQLiteAuditStore
from monitoring.ingest import OutcomeIngestor
from monitoring.sqlite import SQLiteOutcomeConfig, SQLiteOutcomeStore
from tests import records

TODAY = date(2026, 11, 30)  # the ingestor's "today"; decisions are appended now, UTC


@pytest.fixture
def audit(tmp_path):
    store = SQLiteAuditStore(tmp_path / "audit.db")
    for i in range(1, 4):
        store.append(records.decision(f"D{i}"), application_id=f"A-D{i}", decision_id=f"D{i}")
    yield store
    store.close()


@pytest.fixture
def outcome_store(tmp_path):
    store = SQLiteOutcomeStore(SQLiteOutcomeConfig(path=tmp_path / "outcomes.db"))
    yield store
    store.close()


@pytest.fixture
def ingestor(audit, outcome_store):
    appended = next(audit.entries()).appended_at[:10]
    return OutcomeIngestor(audit, outcome_store, today=lambda: date.fromisoformat(appended))
