"""Console routes: login, decisions (search and one decision). Rollout, models and audit
pages live in their own modules; `install` mounts all of them on the app."""

from __future__ import annotations

import asyncio
import math
from datetime import date, timedelta
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.console import admin_pages, monitoring_page, policy_pages, review_pages, waterfall
from app.console.session import COOKIE
from app.console.web import (
    HERE,
    BadCsrf,
    ConsoleUser,
    LoginRequired,
    ScopeMissing,
    check_csrf,
    current_user,
    need,
    page,
    signer,
    to_login,
)
from app.deps import ServicesDep
from audit.records import parse_record
from audit.search import DecisionQuery, search
from audit.verify import verify_entries

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 25
OUTCOMES = ("approve", "refer", "decline")
ARMS = ("model", "legacy")


def _safe_next(target: str) -> str:
    # Only console paths: an open redirect would let a link send a user elsewhere.
    return target if target.startswith("/console") and not target.startswith("//") else "/console/"


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return to_login("/console/")
    return page(request, "home.html", user)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/console/") -> Response:  # noqa: A002
    return page(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, services: ServicesDep, api_key: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = "/console/") -> Response:  # noqa: A002
    principal = services.api_keys.authenticate(api_key.strip())
    if principal is None:
        return page(request, "login.html", None, status_code=401, next=_safe_next(next),
                    error="That API key is not valid.")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, signer(request).issue(principal.key_id),
                        max_age=signer(request).ttl_s, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/console")
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


def _day(text: str) -> date | None:
    # Empty form fields arrive as "": no bound.
    return date.fromisoformat(text) if text.strip() else None


def _period(since: date | None, until: date | None) -> tuple[str | None, str | None]:
    lo = since.isoformat() + "T00:00:00" if since else None
    # The end of the last day; 9999-12-31 has no next day: no upper bound then.
    hi = (until + timedelta(days=1)).isoformat() + "T00:00:00" if until and until < date.max \
        else None
    return lo, hi


@router.get("/decisions", response_class=HTMLResponse)
async def decisions(request: Request, services: ServicesDep,
                    user: Annotated[ConsoleUser, Depends(need("decisions:read"))],
                    since: str = "", until: str = "",
                    country: Annotated[str, Query(max_length=2)] = "",
                    outcome: Annotated[str, Query(pattern="^(|approve|refer|decline)$")] = "",
                    arm: Annotated[str, Query(pattern="^(|model|legacy)$")] = "",
                    page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1) -> Response:
    try:
        since_d, until_d = _day(since), _day(until)
    except ValueError:
        return page(request, "message.html", user, status_code=400, title="Bad search",
                    message="Dates must look like 2026-01-31.")
    lo, hi = _period(since_d, until_d)
    q = DecisionQuery(since=lo, until=hi, country=country.upper() or None,
                      outcome=outcome or None, decided_by=arm or None,
                      offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
    rows = await asyncio.to_thread(search, services.audit, q)
    filters = {"since": since, "until": until,
               "country": country.upper(), "outcome": outcome, "arm": arm}
    return page(request, "decisions.html", user, rows=rows[:PAGE_SIZE], filters=filters,
                page_no=page_no, has_next=len(rows) > PAGE_SIZE, outcomes=OUTCOMES, arms=ARMS)


async def _decision(services, decision_id: str):  # noqa: ANN001, ANN202
    entry = await asyncio.to_thread(services.audit.get_decision, decision_id)
    return entry, (parse_record(entry.body) if entry is not None else None)


@router.get("/decisions/{decision_id}", response_class=HTMLResponse)
async def decision(request: Request, decision_id: str, services: ServicesDep,
                   user: Annotated[ConsoleUser, Depends(need("decisions:read"))],
                   verified: str | None = None) -> Response:
    entry, rec = await _decision(services, decision_id)
    if entry is None:
        return page(request, "message.html", user, status_code=404, title="Not found",
                    message="No decision with that id.")
    chart = None
    if rec.explanation is not None and rec.score is not None:
        rows, box = waterfall.layout(waterfall.bars(rec.explanation.base_value,
                                                    rec.explanation.contributions))
        chart = {"rows": rows, "box": box, "log_odds": rec.score.log_odds}
    pd = rec.response.probability_of_default
    logit = math.log(pd / (1 - pd)) if pd is not None and 0 < pd < 1 else None
    return page(request, "decision.html", user, rec=rec, entry=entry, chart=chart, logit=logit,
                chain=entry.chain_position(), verified=verified,
                application=orjson.dumps(rec.application, option=orjson.OPT_INDENT_2).decode())


@router.post("/decisions/{decision_id}/verify", response_class=HTMLResponse)
async def verify_decision(request: Request, decision_id: str, services: ServicesDep,
                          user: Annotated[ConsoleUser, Depends(need("decisions:read"))],
                          csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    entry, _ = await _decision(services, decision_id)
    if entry is None:
        return page(request, "message.html", user, status_code=404, title="Not found",
                    message="No decision with that id.")
    # The chain from its genesis up to this entry: each link's hash covers the one before.
    result = await asyncio.to_thread(
        lambda: verify_entries(services.audit.entries(entry.chain_id, 1, entry.seq)))
    status = "ok" if result.ok and result.checked == entry.seq else "failed"
    return RedirectResponse(f"/console/decisions/{decision_id}?verified={status}", status_code=303)


def install(app: FastAPI) -> None:
    """Mount the console: pages, vendored static files, and its error pages."""
    app.include_router(router)
    app.include_router(admin_pages.router)
    app.include_router(review_pages.router)
    app.include_router(monitoring_page.router)
    app.include_router(policy_pages.router)
    app.mount("/console/static", StaticFiles(directory=str(HERE / "static")), name="console-static")

    async def on_login_required(request: Request, exc: LoginRequired) -> Response:
        return to_login(exc.path)

    async def on_scope_missing(request: Request, exc: ScopeMissing) -> Response:
        return page(request, "message.html", exc.user, status_code=403, title="Not allowed",
                    message=f"Your API key lacks the '{exc.scope}' scope needed for this page.")

    async def on_bad_csrf(request: Request, exc: BadCsrf) -> Response:
        return page(request, "message.html", current_user(request), status_code=403,
                    title="Form expired", message="The form's security token did not match; "
                    "reload the page and try again.")

    app.add_exception_handler(LoginRequired, on_login_required)  # type: ignore[arg-type]
    app.add_exception_handler(ScopeMissing, on_scope_missing)  # type: ignore[arg-type]
    app.add_exception_handler(BadCsrf, on_bad_csrf)  # type: ignore[arg-type]
