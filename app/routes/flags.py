"""GET/PUT /v1/flags/{country}: a country's rollout state.

GET needs `decisions:read`, PUT `flags:admin`. The actor recorded in the audit log is the
API key's name and id, never a value the caller chooses.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from app.api_keys import Principal
from app.auth import require
from app.deps import ServicesDep, unique_json_keys
from app.errors import Unavailable
from app.schemas import Country, ErrorOut
from feature_flags.model import CountryFlag

router = APIRouter(prefix="/v1/flags", tags=["flags"])


class FlagOut(BaseModel):
    country: str
    mode: Literal["legacy", "shadow", "canary", "full"]
    percent: float = Field(description="share of customers the model decides, 0-100")
    percent_bp: int = Field(description="the same in basis points of 10,000 buckets")
    version: int = Field(description="0: never set, the configured default applies")
    updated_at: str | None
    updated_by: str | None
    reason: str | None


class CanaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    mode: Literal["canary"]
    percent: float = Field(ge=0, le=100, multiple_of=0.01,
                           description="share of customers the model decides; two decimals")
    reason: str = Field(min_length=3, max_length=500)


class FixedModeIn(BaseModel):
    """legacy (the kill switch), shadow or full: no percentage."""

    model_config = ConfigDict(extra="forbid", strict=True)
    mode: Literal["legacy", "shadow", "full"]
    reason: str = Field(min_length=3, max_length=500)


# The schema itself says that a percent goes with canary mode, and only with it.
FlagIn = Annotated[CanaryIn | FixedModeIn, Field(discriminator="mode")]


def _out(flag: CountryFlag) -> FlagOut:
    return FlagOut(**flag.to_dict())


_AUTH = {status: {"model": ErrorOut} for status in (401, 403)}


@router.get("/{country}", response_model=FlagOut, responses={**_AUTH, 503: {"model": ErrorOut}},
            dependencies=[Depends(require("decisions:read"))])
async def get_flag(country: Country, services: ServicesDep) -> FlagOut:
    """The flag this worker applies now (its hot-reloaded snapshot)."""
    rollout = services.orchestrator.rollout
    if rollout is None:
        raise Unavailable("rollout flags are not configured")
    return _out(rollout.flags.get(country))


@router.put("/{country}", response_model=FlagOut, dependencies=[Depends(unique_json_keys)],
            responses={**_AUTH, 400: {"model": ErrorOut}, 409: {"model": ErrorOut},
                       503: {"model": ErrorOut}})
async def put_flag(country: Country, change: FlagIn, services: ServicesDep,
                   principal: Annotated[Principal, Depends(require("flags:admin"))]) -> FlagOut:
    """Change the country's mode; audited (who, when, what, why). Mode legacy = kill switch."""
    actor = f"{principal.name} (key {principal.key_id})"
    flag = await asyncio.to_thread(services.flags.set, country, change.mode,
                                   getattr(change, "percent", None),
                                   reason=change.reason, actor=actor)
    rollout = services.orchestrator.rollout
    if rollout is not None:
        # This worker applies the change at once; the others on their next poll.
        await asyncio.to_thread(rollout.flags.refresh)
    return _out(flag)
