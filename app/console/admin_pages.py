"""Console pages for rollout, models and audit. Changing state (flags, aliases) needs the
admin scope, a CSRF token and a reason; the actor recorded is the API key's name and id."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from app.console import data
from app.console.web import ConsoleUser, check_csrf, need, page
from app.deps import ServicesDep
from audit.store import AuditUnavailable
from feature_flags.model import MODES, InvalidFlag
from feature_flags.store import VersionConflict
from models.errors import PromotionRefused

router = APIRouter(prefix="/console", include_in_schema=False)
CARD_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"


def _actor(user: ConsoleUser) -> str:
    return f"{user.principal.name} (key {user.principal.key_id}, console)"


def _problem(request: Request, user: ConsoleUser, message: str, status: int = 400) -> Response:
    return page(request, "message.html", user, status_code=status, title="Not done",
                message=message)


@router.get("/rollout", response_class=HTMLResponse)
async def rollout(request: Request, services: ServicesDep,
                  user: Annotated[ConsoleUser, Depends(need("decisions:read"))],
                  since: str = "", done: str | None = None) -> Response:
    try:
        since_d = date.fromisoformat(since) if since.strip() else None
    except ValueError:
        return _problem(request, user, "Dates must look like 2026-01-31.")
    view = await asyncio.to_thread(data.rollout_view, services, since_d)
    return page(request, "rollout.html", user, since=since,
                modes=MODES, countries=data.COUNTRIES, done=done, **view)


@router.post("/rollout/flags", response_class=HTMLResponse)
async def change_flag(request: Request, services: ServicesDep,
                      user: Annotated[ConsoleUser, Depends(need("flags:admin"))],
                      country: Annotated[str, Form()], mode: Annotated[str, Form()],
                      reason: Annotated[str, Form()] = "", percent: Annotated[str, Form()] = "",
                      csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    if country not in data.COUNTRIES:
        return _problem(request, user, "Unknown country.")
    if len(reason.strip()) < 3:
        return _problem(request, user, "A reason (at least 3 characters) is required.")
    try:
        await asyncio.to_thread(services.flags.set, country, mode, percent.strip() or None,
                                reason=reason.strip(), actor=_actor(user))
    except InvalidFlag as exc:
        return _problem(request, user, str(exc))
    except VersionConflict:
        return _problem(request, user, "The flag changed meanwhile; reload and retry.", 409)
    # The live flags poll the store; refresh now so the page shows the change.
    if services.orchestrator.rollout is not None:
        await asyncio.to_thread(services.orchestrator.rollout.flags.refresh, True)
    return RedirectResponse(f"/console/rollout?done={country}", status_code=303)


@router.get("/models", response_class=HTMLResponse)
async def models(request: Request, services: ServicesDep,
                 user: Annotated[ConsoleUser, Depends(need("decisions:read"))],
                 done: str | None = None) -> Response:
    view = await asyncio.to_thread(data.models_view, services.registry)
    return page(request, "models.html", user, done=done, **view)


@router.get("/models/{version}/card", response_class=HTMLResponse)
async def model_card(request: Request, version: str, services: ServicesDep,
                     user: Annotated[ConsoleUser, Depends(need("decisions:read"))]) -> Response:
    if not version.isdigit():
        return _problem(request, user, "Model versions are numbers.", 404)
    try:
        html = await asyncio.to_thread(data.model_card_html, services.registry, version)
    except Exception:  # noqa: BLE001 - MLflow raises its own error for an unknown version
        html = None
    if html is None:
        return _problem(request, user, f"Version {version} has no model card.", 404)
    # The stored card is a whole document with inline CSS and images: its own tight CSP.
    return HTMLResponse(html, headers={"Content-Security-Policy": CARD_CSP,
                                       "Cache-Control": "no-store"})


@router.post("/models/promote", response_class=HTMLResponse)
async def promote(request: Request, services: ServicesDep,
                  user: Annotated[ConsoleUser, Depends(need("models:admin"))],
                  version: Annotated[str, Form()], reason: Annotated[str, Form()] = "",
                  force: Annotated[bool, Form()] = False,
                  csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    if len(reason.strip()) < 3:
        return _problem(request, user, "A reason (at least 3 characters) is required.")
    try:
        # Failed or unchecked gates refuse the promotion unless forced; the registry records
        # a forced promotion as such, with the reason.
        await asyncio.to_thread(services.builder.model_admin.promote, version.strip(),
                                who=_actor(user),
                                reason=reason.strip(), force=force)
    except PromotionRefused as exc:
        return _problem(request, user, str(exc), 409)
    except AuditUnavailable as exc:
        return _problem(request, user, str(exc), 503)
    except Exception:  # noqa: BLE001 - MLflow's error for an unknown version
        return _problem(request, user, f"No model version {version!r}.", 404)
    return RedirectResponse("/console/models?done=promoted", status_code=303)


@router.post("/models/rollback", response_class=HTMLResponse)
async def rollback(request: Request, services: ServicesDep,
                   user: Annotated[ConsoleUser, Depends(need("models:admin"))],
                   reason: Annotated[str, Form()] = "",
                   csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    if len(reason.strip()) < 3:
        return _problem(request, user, "A reason (at least 3 characters) is required.")
    try:
        await asyncio.to_thread(services.builder.model_admin.rollback, who=_actor(user),
                                reason=reason.strip())
    except PromotionRefused as exc:
        return _problem(request, user, str(exc), 409)
    except AuditUnavailable as exc:
        return _problem(request, user, str(exc), 503)
    return RedirectResponse("/console/models?done=rolled+back", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, services: ServicesDep,
                user: Annotated[ConsoleUser, Depends(need("audit:export"))]) -> Response:
    view = await asyncio.to_thread(data.audit_view, services)
    today = datetime.now(UTC).date()
    return page(request, "audit.html", user, countries=data.COUNTRIES,
                default_from=(today - timedelta(days=30)).isoformat(),
                default_to=(today + timedelta(days=1)).isoformat(), **view)


@router.post("/audit/export")
async def export(request: Request, services: ServicesDep,
                 user: Annotated[ConsoleUser, Depends(need("audit:export"))],
                 country: Annotated[str, Form()], start: Annotated[date, Form()],
                 end: Annotated[date, Form()], csrf: Annotated[str, Form()] = "") -> Response:
    """The regulator bundle (as `credit audit export`), zipped for download."""
    from audit.export import export as write_export

    check_csrf(user, csrf)
    if country not in data.COUNTRIES or end <= start:
        return _problem(request, user, "Choose a country and a period whose end is after "
                        "its start.")
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC)
    work = Path(tempfile.mkdtemp(prefix="console-export-"))
    name = f"audit-export-{country}-{start}-{end}"

    def run() -> Path:
        write_export(services.audit, services.builder.digest_writer(), country, lo, hi,
                     work / name)
        return Path(shutil.make_archive(str(work / name), "zip", work, name))

    archive = await asyncio.to_thread(run)
    return FileResponse(archive, media_type="application/zip", filename=f"{name}.zip",
                        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True))
