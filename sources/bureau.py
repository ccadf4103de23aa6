"""Credit bureau: adverse records and outstanding debt."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict, Field

from sources.base import HttpSource


class BureauReport(BaseModel):
    # Infinity, NaN or 1e400 cannot be recorded exactly as the model would see it: a
    # malformed answer (the source degrades), never a value silently changed.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    bad_records: bool
    debt: float | None = Field(default=None, ge=0)


def bureau_source(client: httpx.AsyncClient) -> HttpSource:
    return HttpSource("bureau", client, "/v1/reports", BureauReport)


def to_raw(report: dict) -> dict:
    """Bureau values -> raw feature fields."""
    return {"records": 1.0 if report["bad_records"] else 0.0, "debt": report["debt"]}
