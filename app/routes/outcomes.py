"""POST /v1/outcomes: loan outcomes reported back by the lending app (`outcomes:write`).

Each item is checked on its own: a malformed item or an unknown decision is refused with
its index and the reason, the others are kept. The batch is recorded in the audit log
(monitoring/ingest.py). Resending a batch is safe: outcomes already stored are counted as
duplicates and change nothing.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from app.api_keys import Principal
from app.auth import require
from app.deps import ServicesDep
from app.schemas import ErrorOut
from monitoring.store import OutcomeStoreUnavailable

# A full request of outcomes (at most ~170 bytes each) stays under the default body limit
# (CREDIT_MAX_BODY_BYTES, 64 KiB); files of any size go through `credit outcomes ingest`.
MAX_ITEMS = 250
EXAMPLE = {"decision_id": "0b2e6b61d1c84f6e9f3c3c1f5a7d2e10", "defaulted": False,
           "observed_at": "2027-05-31", "loan_taken": True, "months_on_book": 6}

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"])


class OutcomesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcomes: list[Any] = Field(
        min_length=1, max_length=MAX_ITEMS, examples=[[EXAMPLE]],
        description="Outcomes, each an object: `decision_id` (string, a decision in the audit "
                    "log), `defaulted` (boolean), `observed_at` (date, YYYY-MM-DD, not before "
                    "the decision nor in the future), optional `loan_taken` (boolean: did the "
                    "approved applicant take the loan) and `months_on_book` (integer). Each is "
                    "checked on its own; a refused one is listed under `rejected`.")


class RejectedOut(BaseModel):
    index: int = Field(description="position of the item in `outcomes`, from 0")
    error: str


class OutcomesOut(BaseModel):
    batch_id: str = Field(description="the batch's id in the audit log and outcome store")
    accepted: int = Field(description="new outcomes stored")
    duplicates: int = Field(description="outcomes already on record: nothing changed")
    rejected: list[RejectedOut]


@router.post("", response_model=OutcomesOut,
             responses={s: {"model": ErrorOut} for s in (401, 403, 413, 422, 503)})
async def post_outcomes(body: OutcomesIn, services: ServicesDep,
                        principal: Annotated[Principal, Depends(require("outcomes:write"))]
                        ) -> OutcomesOut:
    """Report loan outcomes: idempotent, safe with late, repeated and out-of-order data (a
    later `observed_at` supersedes an earlier observation; both stay on record)."""
    timeout = services.settings.outcomes_timeout_s
    try:
        result = await asyncio.wait_for(asyncio.to_thread(
            services.outcomes.ingest, body.outcomes, source="api", strict=True,
            actor=f"{principal.name} (key {principal.key_id})"), timeout)
    except TimeoutError:
        raise OutcomeStoreUnavailable(
            f"the batch was not stored within {timeout:g} s; send it again (outcomes already "
            "stored are counted as duplicates)") from None
    return OutcomesOut(batch_id=result.batch_id, accepted=result.accepted,
                       duplicates=result.duplicates,
                       rejected=[RejectedOut(index=r.index, error=r.error)
                                 for r in result.rejected])
