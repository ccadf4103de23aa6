"""The typed records (audit/records.py) read what the log holds, exactly."""

from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from audit.governance_records import FlagChange
from audit.record import canonical
from audit.records import DecisionRecord, parse_record, to_json
from tests import records

# Records written by the code before the typed records existed (schema 1): model and legacy
# decisions, canary and shadow modes, degraded sources, velocity referrals, a flag change.
SCHEMA_1 = (Path(__file__).parent / "data" / "schema1-records.jsonl").read_bytes().splitlines()


@pytest.mark.parametrize("body", SCHEMA_1, ids=range(len(SCHEMA_1)))
def test_schema_1_records_parse_and_dump_back_to_the_same_bytes(body):
    """Nothing of an old record is lost or changed by reading it through its type."""
    rec = parse_record(body)
    assert rec.schema_version == 1
    assert canonical(to_json(rec)) == body


def test_the_fixture_covers_every_kind():
    recs = [parse_record(b) for b in SCHEMA_1]
    decisions = [r for r in recs if isinstance(r, DecisionRecord)]
    assert any(isinstance(r, FlagChange) for r in recs)
    assert {r.response.decided_by for r in decisions} == {"model", "legacy"}
    assert {r.response.outcome for r in decisions} == {"approve", "refer", "decline"}
    assert any(r.shadow is not None and r.shadow.comparison is not None for r in decisions)
    assert any(r.response.degraded for r in decisions)


def test_unknown_or_missing_fields_are_refused():
    """Strict names: a misspelt field is an error, never silently dropped."""
    good = records.decision("D1")
    parse_record(orjson.dumps(good))
    with pytest.raises(ValidationError, match="extra"):
        parse_record(orjson.dumps({**good, "outcom": "approve"}))
    with pytest.raises(ValidationError, match="response"):
        parse_record(orjson.dumps({k: v for k, v in good.items() if k != "response"}))
    with pytest.raises(ValidationError):
        parse_record(orjson.dumps({**good, "type": "unheard_of"}))


def test_flag_change_keeps_its_from_and_to_names():
    doc = records.flag_change()
    assert {"from", "to"} <= set(doc) and "before" not in doc
    assert parse_record(orjson.dumps(doc)).after.mode == "legacy"
