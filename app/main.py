"""App factory. Nothing is built at import time: the lifespan builds the services."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.requests import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.auth import AuthenticateFirst
from app.console import router as console
from app.errors import STATUS, status_of
from app.logging import configure_logging
from app.middleware import RequestContextMiddleware
from app.routes import (
    audit,
    decisions,
    flags,
    health,
    metrics,
    monitoring,
    outcomes,
    policies,
    reviews,
)
from app.services import Services, build_services
from app.settings import Settings
from app.tracing import configure_tracing

YOUNG_GC_THRESHOLD = 10_000


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


async def _on_mapped_error(_: Request, exc: Exception) -> JSONResponse:
    status, code = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, headers=headers,
                        content={"error": code, "message": str(exc)})


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # Framework errors (unparseable body, unknown route, wrong method) in our error shape.
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        # Starlette names only the first route matching the path; a path served by several
        # routes (GET and PUT /v1/flags/{country}) must list all of its methods.
        headers["Allow"] = ", ".join(_allowed_methods(request.app, request.url.path)
                                     or [headers.get("Allow", "")])
    return JSONResponse(status_code=exc.status_code, headers=headers or None,
                        content={"error": code, "message": str(exc.detail)})


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    if not hasattr(app.state, "path_methods"):
        app.state.path_methods = [
            (compile_path(template)[0], {m.upper() for m in ops})
            for template, ops in app.openapi()["paths"].items()]
    methods: set[str] = set()
    for regex, ops in app.state.path_methods:
        if regex.match(path):
            methods |= ops | ({"HEAD"} if "GET" in ops else set())
    return sorted(methods)


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    # Logged with its type only: the message of an unexpected error may carry input values.
    structlog.get_logger("credit").error("unexpected_error", error_type=type(exc).__name__)
    return JSONResponse(status_code=500, content={"error": "internal_error",
                                                  "message": "internal error; see the server log"})


def create_app(settings: Settings,
               build: Callable[[Settings], Services] = build_services) -> FastAPI:
    log = structlog.get_logger("credit")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.insecure_no_auth:
            log.warning("INSECURE_NO_AUTH: authentication is OFF; every caller has every scope. "
                        "Development only.")
        # Every blocking store call runs in a thread (core/blocking.py): enough of them that
        # a few stalled on a dead store never starve the others.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(settings.store_threads, thread_name_prefix="store"))
        services = build(settings)
        app.state.services = services
        await services.start()
        # What start-up built (the model, MLflow's and pandas' modules: most of a worker's
        # few hundred MB) lives as long as the process. Frozen, the collector no longer
        # scans it: a full collection took 100-400 ms here, the p99 of a decision (ADR 0141).
        gc.collect()
        gc.freeze()
        # Python's young threshold (700) caught decisions' short-lived objects in flight and
        # moved them to the old generation, due for a full collection (4-19 ms) every 2-5 s.
        # At 10,000 they die by reference count first (ADR 0159).
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
        log.info("worker_started", pid=os.getpid())
        try:
            yield
        finally:
            await services.aclose()

    docs = settings.docs_enabled
    app = FastAPI(title="Credit decisions", version="0.1.0", lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url=None,
                  openapi_url="/openapi.json" if docs else None)
    app.add_middleware(AuthenticateFirst)  # inside: the access line still records the 401
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    for error in STATUS:
        app.add_exception_handler(error, _on_mapped_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
    app.include_router(health.router)
    app.include_router(decisions.router)
    app.include_router(metrics.router)
    app.include_router(flags.router)
    app.include_router(audit.router)
    app.include_router(reviews.router)
    app.include_router(reviews.decisions_router)
    app.include_router(outcomes.router)
    app.include_router(monitoring.router)
    app.include_router(policies.router)
    console.install(app)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory (`app.main:app_from_env`): settings from the environment, at start-up."""
    settings = Settings()
    configure_logging(settings.log_level)
    configure_tracing(settings.tracing, settings.otlp_endpoint)
    return create_app(settings)
