"""Pure ASGI middleware (no per-request task overhead): request ids bound to the log
context, a request body size limit, secure response headers and one access-log line."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
import structlog

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
]
# JSON API responses: nothing may be loaded by them. Pages (docs, console) set their own.
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")


class RequestContextMiddleware:
    def __init__(self, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.log = structlog.get_logger("credit.access")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = rid if _REQUEST_ID.match(rid) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        status = 500
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        app_receive = receive
        if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
            # Chunked body of unknown size: buffer it (up to the limit) before the app sees it.
            body, more = b"", True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_body_bytes:
                    await self._too_large(send)
                    return
            replayed = False

            async def replay() -> dict:
                nonlocal replayed
                if replayed:
                    return {"type": "http.disconnect"}
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            app_receive = replay

        async def send_with_headers(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [(b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
                names = {k.lower() for k, _ in message.get("headers", [])}
                if b"content-security-policy" not in names and not scope["path"].startswith(
                        ("/docs", "/redoc", "/console")):
                    extra.append(API_CSP)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, app_receive, send_with_headers)
        finally:
            _count(scope, status)
            self.log.info("request", method=scope["method"], path=scope["path"], status=status,
                          ms=round((time.perf_counter() - start) * 1000, 3))

    async def _too_large(self, send: Any) -> None:
        body = orjson.dumps({"error": "payload_too_large",
                             "message": f"request body above {self.max_body_bytes} bytes"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": body})


def _count(scope: dict, status: int) -> None:
    """Count the request under its route template (never the raw path: ids stay out of labels)."""
    services = getattr(scope["app"].state, "services", None) if "app" in scope else None
    if services is None:
        return
    route = getattr(scope.get("route"), "path", "unmatched")
    services.http_metrics.requests.labels(scope["method"], route, str(status)).inc()
