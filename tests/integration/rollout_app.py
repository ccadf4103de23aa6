"""An in-process API (real model, real simulators over HTTP, real audit store) for the
rollout tests and the shadow benchmark; `wrap` may swap an arm for a failing one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from app.api_keys import SCOPES, ApiKeyStore
from app.main import create_app
from app.services import Services, build_services
from app.settings import Settings
from tests.conftest import GENEROUS_DEADLINES

BUCKET_KEY = "rollout-test-bucket-key-0123456789"


def settings_for(data_dir: Path, simulators_url: str, **overrides) -> Settings:
    return Settings(data_dir=data_dir, bureau_url=f"{simulators_url}/bureau",
                    open_banking_url=f"{simulators_url}/open-banking", bucket_key=BUCKET_KEY,
                    flag_poll_interval_s=0.05, **{**GENEROUS_DEADLINES, **overrides})


def auth_header(settings: Settings, name: str) -> dict[str, str]:
    """A real all-scopes API key named `name` (the audit log records it as the actor)."""
    key = ApiKeyStore(settings.api_keys_path).create(name, list(SCOPES))
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def client(settings: Settings, wrap: Callable[[Services], None] | None = None
                 ) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    def build(s: Settings) -> Services:
        services = build_services(s)
        if wrap is not None:
            wrap(services)
        return services

    app = create_app(settings, build)
    headers = auth_header(settings, "risk:test")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api",
                                     headers=headers) as c:
            yield c, app.state.services
