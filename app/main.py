"""App factory. Nothing is built at import time: the lifespan builds the services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.requests import Request
from fastapi.responses import JSONResponse

from app.bootstrap import Services, build_services
from app.errors import CreditError
from app.routes import audit, decisions, health, metrics
from app.settings import Settings


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


async def _on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    # The offending input is not echoed back: it may be a national id.
    detail = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse(status_code=422, content={
        "error": "validation_error", "message": _validation_message(exc), "detail": detail})


async def _on_credit_error(_: Request, exc: CreditError) -> JSONResponse:
    return JSONResponse(status_code=exc.status_code,
                        content={"error": exc.code, "message": exc.message})


def create_app(settings: Settings,
               build: Callable[[Settings], Services] = build_services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build(settings)
        app.state.services = services
        await services.start()
        try:
            yield
        finally:
            await services.aclose()

    app = FastAPI(title="Credit decisions", version="0.1.0", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(CreditError, _on_credit_error)  # type: ignore[arg-type]
    app.include_router(health.router)
    app.include_router(decisions.router)
    app.include_router(metrics.router)
    app.include_router(audit.router)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory (`app.main:app_from_env`): settings from the environment, at start-up."""
    return create_app(Settings())
