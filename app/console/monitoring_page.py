"""The console's Monitoring page (`monitoring:read`): realized bad rate per arm over time
with intervals, calibration, drift per feature; the same figures as
GET /v1/monitoring/performance and /drift, drawn as server-side SVG."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.console.web import ConsoleUser, need, page
from app.deps import ServicesDep
from decision.application import COUNTRIES
from monitoring import charts
from monitoring.report import findings
from monitoring.store import Period

router = APIRouter(prefix="/console", include_in_schema=False)


def view(services: Any, period: Period, cohort: str) -> dict[str, Any]:
    perf = services.monitor.performance(period, cohort)
    drift = services.monitor.drift(period)
    groups = perf["groups"]
    series = {f"{g['country']} {g['decided_by']}"
              + (f" v{g['model_version']}" if g["model_version"] else ""): g["cohorts"]
              for g in groups}
    calibration = [(g, charts.calibration_chart(
        g["calibration"], f"Calibration, {g['country']} {g['decided_by']}"))
        for g in groups if g["calibration"]]
    rows = drift["features"] + ([drift["score"]] if drift.get("score") else [])
    return {"perf": perf, "drift": drift, "drift_rows": rows,
            "findings": findings(groups, drift), "calibration": calibration,
            "bad_rate_chart": charts.bad_rate_chart(series) if groups else None,
            "drift_chart": charts.drift_chart(rows, drift["thresholds"]["warn"],
                                              drift["thresholds"]["alert"]) if rows else None}


@router.get("/monitoring", response_class=HTMLResponse)
async def monitoring(request: Request, services: ServicesDep,
                     user: Annotated[ConsoleUser, Depends(need("monitoring:read"))],
                     country: Annotated[str, Query(max_length=2)] = "", since: str = "",
                     until: str = "",
                     cohort: Annotated[str, Query(pattern="^(month|day)$")] = "month"
                     ) -> Response:
    try:
        days = [date.fromisoformat(d).isoformat() if d.strip() else None for d in (since, until)]
    except ValueError:
        return page(request, "message.html", user, status_code=400, title="Bad period",
                    message="Dates must look like 2026-01-31.")
    country = country.upper()
    if country and country not in COUNTRIES:
        return page(request, "message.html", user, status_code=400, title="Bad country",
                    message=f"Countries: {', '.join(COUNTRIES)}.")
    period = Period(days[0], days[1], country or None)
    data = await asyncio.to_thread(view, services, period, cohort)
    return page(request, "monitoring.html", user, countries=COUNTRIES, cohort=cohort,
                filters={"country": country, "since": since, "until": until}, **data)
