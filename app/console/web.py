"""Console plumbing: templates, the session dependency with its scope check, CSRF, and the
page headers (own CSP: the API's strict one forbids everything a page needs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app.api_keys import DEV_PRINCIPAL, Principal
from app.console.session import COOKIE, Session, SessionSigner
from core.keyfile import load_or_create

HERE = Path(__file__).parent
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class LoginRequired(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


class ScopeMissing(Exception):
    def __init__(self, scope: str, user: ConsoleUser | None = None) -> None:
        self.scope = scope
        self.user = user


class BadCsrf(Exception):
    pass


@dataclass(frozen=True)
class ConsoleUser:
    principal: Principal
    session: Session | None  # None in insecure development mode

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""

    def can(self, scope: str) -> bool:
        return scope in self.principal.scopes


def templates(request: Request) -> Jinja2Templates:
    state = request.app.state
    if getattr(state, "console_templates", None) is None:
        state.console_templates = Jinja2Templates(directory=str(HERE / "templates"))
    return state.console_templates


def signer(request: Request) -> SessionSigner:
    state = request.app.state
    if getattr(state, "console_signer", None) is None:
        settings = request.app.state.services.settings
        state.console_signer = SessionSigner(
            load_or_create(settings.keys_dir / "console-session.key"))
    return state.console_signer


def current_user(request: Request) -> ConsoleUser | None:
    services = request.app.state.services
    if services.settings.insecure_no_auth:
        return ConsoleUser(DEV_PRINCIPAL, None)
    session = signer(request).read(request.cookies.get(COOKIE))
    if session is None:
        return None
    # Re-checked every request: a revoked key or a removed scope ends access at once.
    meta = services.api_keys.list().get(session.key_id)
    if meta is None:
        return None
    return ConsoleUser(Principal(session.key_id, meta["name"], frozenset(meta["scopes"])),
                       session)


def need(scope: str):
    """Dependency: the signed-in user holding `scope` (login redirect / 403 page otherwise)."""

    def dependency(request: Request) -> ConsoleUser:
        user = current_user(request)
        if user is None:
            raise LoginRequired(request.url.path)
        if not user.can(scope):
            raise ScopeMissing(scope, user)
        request.state.principal = user.principal
        return user

    return dependency


def check_csrf(user: ConsoleUser, token: str) -> None:
    import hmac

    # Bytes: compare_digest refuses str with non-ASCII characters (a hostile form field).
    if user.session is not None and not hmac.compare_digest(
            token.encode("utf-8", "replace"), user.session.csrf.encode()):
        raise BadCsrf()


def page(request: Request, name: str, user: ConsoleUser | None, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    response = templates(request).TemplateResponse(
        request, name, {"user": user, **context}, status_code=status_code)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    return response


def to_login(path: str) -> RedirectResponse:
    return RedirectResponse(f"/console/login?next={quote(path)}", status_code=303)
