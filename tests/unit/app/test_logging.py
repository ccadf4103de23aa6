import json
import logging

import pytest
import structlog

from app.logging import REDACTED, configure_logging, redact


def test_redact_drops_sensitive_fields_and_masks_ids():
    event = {"event": "x", "national_id": "anything", "nested": {"name": "Ana", "ok": 1},
             "msg": "lookup for 12345678Z failed", "nie": ["X1234567L"], "count": 3}
    out = redact(None, "info", event)
    assert out["national_id"] == REDACTED and out["nested"]["name"] == REDACTED
    assert out["nested"]["ok"] == 1 and out["count"] == 3
    assert "12345678Z" not in out["msg"] and out["nie"] == [REDACTED]


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_stdlib_and_structlog_lines_are_redacted_json(capsys, restore_logging):
    configure_logging("INFO")
    structlog.get_logger("t").info("hello", national_id="12345678Z", country="ES")
    logging.getLogger("uvicorn.error").error("bad request from 87654321X")
    out = capsys.readouterr().out
    assert "12345678Z" not in out and "87654321X" not in out
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["country"] == "ES" and lines[0]["event"] == "hello"
    assert lines[0]["national_id"] == "[REDACTED]" and "[REDACTED]" in lines[1]["event"]
