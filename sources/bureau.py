"""Credit bureau: adverse records and outstanding debt."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict, Field

from sources.base import HttpSource


class BureauReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bad_records: bool
    debt: float | None = Field(default=None, ge=0)


def bureau_source(client: httpx.AsyncClient) -> HttpSource:
    return HttpSource("bureau", client, "/v1/reports", BureauReport)


def to_raw(report: dict) -> dict:
    """Bureau values -> raw feature fields."""
    return {"records": 1.0 if report["bad_records"] else 0.0, "debt": report["debt"]}
