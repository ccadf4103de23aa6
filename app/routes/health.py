from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    scorer = services.orchestrator.scorers.current
    checks["model"] = f"version {scorer.version}"
    try:
        await asyncio.to_thread(services.audit.ping)
        checks["audit_store"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["audit_store"] = f"error: {type(exc).__name__}"
    ready = all(not v.startswith("error") for v in checks.values())
    return JSONResponse(status_code=200 if ready else 503,
                        content={"status": "ready" if ready else "not_ready", "checks": checks})
