"""Open banking: verified monthly income, expenses and assets."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict, Field

from sources.base import HttpSource


class BankingSummary(BaseModel):
    # As the bureau's: a non-finite number is a malformed answer.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    income: float | None = Field(default=None, ge=0)
    expenses: float = Field(ge=0)
    assets: float | None = Field(default=None, ge=0)


def open_banking_source(client: httpx.AsyncClient) -> HttpSource:
    return HttpSource("open_banking", client, "/v1/summaries", BankingSummary)


def to_raw(summary: dict) -> dict:
    return {"income": summary["income"], "expenses": summary["expenses"],
            "assets": summary["assets"]}
