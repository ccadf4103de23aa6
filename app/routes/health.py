from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.deps import ServicesDep
from core import blocking

router = APIRouter(tags=["health"])


@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> dict:
    """Alive: answers whatever the stores are doing (nothing here waits on them)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Model loaded, the audit store answering within its deadline, and the last append
    did not fail (a decision now would be refused)."""
    checks: dict[str, str] = {}
    orchestrator = services.orchestrator
    checks["model"] = f"version {orchestrator.scorers.current.version}"
    try:
        await blocking.call(services.audit.ping, timeout_s=orchestrator.audit_timeout_s)
        checks["audit_store"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["audit_store"] = f"error: {type(exc).__name__}"
    if orchestrator.audit_failing_since is not None:
        since = time.monotonic() - orchestrator.audit_failing_since
        checks["audit_appends"] = f"error: failing for {since:.0f}s"
    ready = all(not v.startswith("error") for v in checks.values())
    return JSONResponse(status_code=200 if ready else 503,
                        content={"status": "ready" if ready else "not_ready", "checks": checks})
