"""Settings read from the environment as operators write them."""

import pytest
from pydantic import ValidationError

from app.settings import Settings


def test_review_settings_per_country_or_one_number(monkeypatch):
    """One number applies everywhere; JSON per country keeps the default for the others."""
    monkeypatch.setenv("CREDIT_REVIEW_SLA_HOURS", '{"ES": 8}')
    monkeypatch.setenv("CREDIT_REVIEW_SECOND_APPROVER_ABOVE", "5000")
    s = Settings()
    assert s.review_sla_hours == {"ES": 8.0, "default": 24.0}
    assert s.review_second_approver_above == {"default": 5000.0}
    monkeypatch.setenv("CREDIT_REVIEW_SECOND_APPROVER_ABOVE", '{"PT": "lots"}')
    with pytest.raises(ValidationError):
        Settings()
