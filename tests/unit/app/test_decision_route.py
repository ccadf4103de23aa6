"""app/routes/decisions.py: the decision route's plain path gives the endpoint what
FastAPI would, and leaves every request it cannot take whole to FastAPI."""

import asyncio
from types import SimpleNamespace

import orjson
import pytest
from fastapi import FastAPI
from starlette.requests import Request

from app.api_keys import ApiKeyStore
from app.auth import require
from app.deps import get_services, unique_json_keys
from app.routes import decisions
from app.schemas import Application
from app.simulators.server import application_for_row


@pytest.fixture()
def app(tmp_path):
    keys = ApiKeyStore(tmp_path / "api_keys.json")
    app = FastAPI()
    app.state.services = SimpleNamespace(settings=SimpleNamespace(insecure_no_auth=False),
                                         api_keys=keys)
    app.state.keys = {"write": keys.create("w", ["decisions:write"]),
                      "read": keys.create("r", ["decisions:read"])}
    return app


def request(app, body, key=None, content_type="application/json", language=None):
    headers = [(b"content-type", content_type.encode())] if content_type else []
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    if language:
        headers.append((b"accept-language", language.encode()))
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": "POST", "path": "/v1/decisions", "headers": headers,
                    "query_string": b"", "app": app}, receive)


def arguments(req):
    return asyncio.run(decisions._plain_arguments(req))


def test_plain_arguments_of_a_valid_request(app):
    doc = application_for_row(3, application_id="PLAIN-3")
    args = arguments(request(app, orjson.dumps(doc), app.state.keys["write"], language="es-ES"))
    assert args["application"] == Application.model_validate(doc)
    assert args["services"] is app.state.services
    assert args["principal"].name == "w" and args["accept_language"] == "es-ES"
    no_language = arguments(request(app, orjson.dumps(doc), app.state.keys["write"],
                                    content_type="application/json; charset=utf-8"))
    assert no_language["accept_language"] == "en"


@pytest.mark.parametrize("case", ["no key", "wrong scope", "forged key", "repeated key",
                                  "invalid body", "not json", "empty", "deep", "form",
                                  "no content type"])
def test_every_other_request_is_left_to_fastapi(app, case):
    doc = application_for_row(3, application_id="PLAIN-3")
    body, key, content_type = orjson.dumps(doc), app.state.keys["write"], "application/json"
    match case:
        case "no key":
            key = None
        case "wrong scope":
            key = app.state.keys["read"]
        case "forged key":
            key = "ck_000000000000_forged"
        case "repeated key":
            body = body.replace(b'"bureau":true', b'"bureau":false,"bureau":true')
            assert body.count(b'"bureau"') == 2
        case "invalid body":
            body = orjson.dumps({**doc, "loan": {"amount": -1}})
        case "not json":
            body = b"{not json"
        case "empty":
            body = b""
        case "deep":
            body = b"[" * 100_000 + b"]" * 100_000  # RecursionError, not a ValueError
        case "form":
            content_type = "application/x-www-form-urlencoded"
        case "no content type":
            content_type = None
    assert arguments(request(app, body, key, content_type)) is None


def test_the_plain_path_reproduces_every_dependency_the_route_declares():
    """A dependency or parameter added to the route must be added to the plain path too:
    this pins what `_plain_arguments` reproduces."""
    (route,) = [r for r in decisions.router.routes if "POST" in getattr(r, "methods", ())]
    assert isinstance(route, decisions._DecisionRoute)
    declared = [d.call for d in route.dependant.dependencies]
    assert declared[0] is unique_json_keys and declared[1] is get_services
    assert declared[2].__qualname__ == require("x").__qualname__ and len(declared) == 3
    assert [p.name for p in route.dependant.header_params] == ["accept_language"]
    assert [p.name for p in route.dependant.body_params] == ["application"]
    assert not route.dependant.query_params and not route.dependant.path_params
    assert not route.dependant.cookie_params
