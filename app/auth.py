"""Authentication of HTTP requests with the API keys of app/api_keys.py: a dependency per
route that requires a scope, and a pure ASGI guard that checks the key before a body is read.
Insecure development mode (CREDIT_INSECURE_NO_AUTH=true) lets every request through as a
principal holding every scope, and says so loudly at every start.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api_keys import DEV_PRINCIPAL, Principal
from app.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer ck_...`")


def require(scope: str):
    """A dependency: the caller's principal, which must hold `scope` (401 / 403 otherwise)."""

    # async: a plain function would be run in FastAPI's thread pool, a hop per request.
    async def dependency(request: Request,
                   creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
                   ) -> Principal:
        return _principal(request, creds, scope)

    return dependency


async def authorize(request: Request, scope: str) -> Principal:
    """What `require(scope)` gives, outside FastAPI's dependency solving."""
    return _principal(request, await _bearer(request), scope)


def _principal(request: Request, creds: HTTPAuthorizationCredentials | None,
               scope: str) -> Principal:
    services = request.app.state.services
    if services.settings.insecure_no_auth:
        principal = DEV_PRINCIPAL
    else:
        if creds is None:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
        principal = services.api_keys.authenticate(creds.credentials)
        if principal is None:
            raise Unauthorized("invalid API key")
    if scope not in principal.scopes:
        raise Forbidden(f"this API key lacks the '{scope}' scope")
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(key_id=principal.key_id)  # in the access line
    return principal


class AuthenticateFirst:
    """Pure ASGI: a request that sends a body to the API (POST/PUT/PATCH under /v1/) must
    carry a valid key before anything reads that body, so an unauthenticated caller learns
    nothing about the schema from its validation errors. The scope is still checked by
    `require` on the route (403)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH")
                and scope["path"].startswith("/v1/")):
            services = getattr(scope["app"].state, "services", None)
            if services is not None and not services.settings.insecure_no_auth:
                auth = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
                token = auth[7:] if auth[:7].lower() == "bearer " else ""
                if not token or services.api_keys.authenticate(token) is None:
                    body = orjson.dumps({"error": "unauthorized", "message":
                                         "missing or invalid API key: send `Authorization: "
                                         "Bearer <key>`"})
                    await send({"type": "http.response.start", "status": 401, "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b"Bearer")]})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)
