"""The console's Policies page (`policy:admin`): the history, and for each version its
document, its diff against the live one and its backtest on the recorded history; a
proposal's approve form sits below its backtest, so nobody approves without seeing it. The
approver must be another key than the proposer (four eyes, enforced by strategy.admin)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.console.web import ConsoleUser, check_csrf, need, page
from app.deps import ServicesDep
from app.routes.policies import run_backtest
from audit.store import AuditUnavailable
from core.blocking import StoreTimeout, call
from strategy.errors import PolicyError, PolicyNotFound, SameApprover
from strategy.history import Window

router = APIRouter(prefix="/console", include_in_schema=False)
VERSION = r"^[\w.\-]{1,64}$"


def _actor(user: ConsoleUser) -> tuple[str, str]:
    return (f"{user.principal.name} (key {user.principal.key_id}, console)",
            f"key:{user.principal.key_id}")


@router.get("/policies", response_class=HTMLResponse)
async def policies(request: Request, services: ServicesDep,
                   user: Annotated[ConsoleUser, Depends(need("policy:admin"))],
                   done: str | None = None) -> Response:
    history = await asyncio.to_thread(services.policy_admin.history)
    served = services.orchestrator.arms.model.policy.version
    return page(request, "policies.html", user, history=list(reversed(history)),
                served=served, done=done)


def _view(services: Any, version: str) -> dict[str, Any]:
    admin = services.policy_admin
    v = admin.get(version)
    live = admin.live_version()
    return {"v": v, "live": live, "diff": admin.diff(live, version) if version != live else None}


@router.get("/policies/{version}", response_class=HTMLResponse)
async def policy(request: Request, version: str, services: ServicesDep,
                 user: Annotated[ConsoleUser, Depends(need("policy:admin"))]) -> Response:
    import re

    if not re.match(VERSION, version):
        return page(request, "message.html", user, status_code=404, title="Not found",
                    message="No such policy version.")
    try:
        view = await asyncio.to_thread(_view, services, version)
    except PolicyNotFound:
        return page(request, "message.html", user, status_code=404, title="Not found",
                    message=f"No policy version {version!r}.")
    backtest, error = None, None
    try:
        backtest = await call(run_backtest, services, version, None, Window(),
                              timeout_s=services.settings.backtest_timeout_s)
    except (StoreTimeout, OSError, RuntimeError) as exc:
        error = f"The backtest could not run ({type(exc).__name__}); approval waits for it."
    own = view["v"].proposed_by_id == f"key:{user.principal.key_id}"
    return page(request, "policy.html", user, backtest=backtest, backtest_error=error,
                own=own, **view)


@router.post("/policies/{version}/approve", response_class=HTMLResponse)
async def approve(request: Request, version: str, services: ServicesDep,
                  user: Annotated[ConsoleUser, Depends(need("policy:admin"))],
                  reason: Annotated[str, Form()] = "", expected_live: Annotated[str, Form()] = "",
                  csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    actor, actor_id = _actor(user)

    def run() -> None:
        services.policy_admin.approve(version, reason=reason.strip(), actor=actor,
                                      actor_id=actor_id,
                                      expected_live=expected_live.strip() or None)
        if services.policies is not None:
            services.policies.check_once()

    try:
        await asyncio.to_thread(run)
    except SameApprover as exc:
        return page(request, "message.html", user, status_code=409, title="Four eyes",
                    message=str(exc))
    except PolicyError as exc:
        return page(request, "message.html", user, status_code=409 if not isinstance(
            exc, PolicyNotFound) else 404, title="Not done", message=str(exc))
    except AuditUnavailable as exc:
        return page(request, "message.html", user, status_code=503, title="Not done",
                    message=str(exc))
    return RedirectResponse(f"/console/policies?done={version}", status_code=303)
