"""GET /v1/monitoring/performance and /drift (`monitoring:read`): realized performance per
country, arm and model version, and drift against the training reference, over a period of
decision days (both bounds inclusive, UTC). Each answer first catches the read model up
with the audit log for at most CREDIT_MONITORING_CATCH_UP_S and says how fresh it is."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BeforeValidator

from app.auth import require
from app.deps import ServicesDep
from app.schemas import Country, ErrorOut
from monitoring.store import Period

router = APIRouter(prefix="/v1/monitoring", tags=["monitoring"],
                   dependencies=[Depends(require("monitoring:read"))],
                   responses={s: {"model": ErrorOut} for s in (401, 403, 422, 503)})


def _iso_day(value: Any) -> Any:
    # A date as the schema says (format: date), not a Unix time pydantic would also take.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a date looks like 2026-01-31")
    return value


Day = Annotated[date | None, BeforeValidator(_iso_day),
                Query(description="YYYY-MM-DD (UTC), inclusive")]


def _period(country: str | None, since: date | None, until: date | None) -> Period:
    return Period(since.isoformat() if since else None, until.isoformat() if until else None,
                  country)


@router.get("/performance")
async def performance(services: ServicesDep, country: Country | None = None,
                      since: Day = None, until: Day = None,
                      cohort: Literal["month", "day"] = "month") -> dict[str, Any]:
    """Per country, deciding arm and model version (null for legacy): approvals, realized
    bad rate of approved loans with a Wilson 95% interval beside their mean PD, calibration
    per PD band, AUC and KS, expected vs realized bad rate per cohort, and the shadow arm's
    counterfactual."""
    return await asyncio.to_thread(services.monitor.performance,
                                   _period(country, since, until), cohort)


@router.get("/drift")
async def drift(services: ServicesDep, country: Country | None = None, since: Day = None,
                until: Day = None,
                model_version: Annotated[str | None, Query(
                    pattern=r"^[0-9]{1,9}$",
                    description="default: the version behind most decisions")] = None
                ) -> dict[str, Any]:
    """PSI of every model feature and of the score against the training reference of the
    model version that served, with the configured warn and alert thresholds."""
    return await asyncio.to_thread(services.monitor.drift, _period(country, since, until),
                                   model_version)
