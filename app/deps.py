"""Dependency aliases for routes."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

from fastapi import Depends, Request

from app.errors import BadRequest
from app.services import Services


async def get_services(request: Request) -> Services:
    # async: FastAPI would run a plain function in its thread pool, a hop per request
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise BadRequest(f"duplicate key {key!r} in the JSON body: which value is meant "
                             "is ambiguous")
        seen[key] = value
    return seen


def parse_unique(body: bytes) -> Any:
    """The JSON document; BadRequest for a repeated key, ValueError if not JSON."""
    return json.loads(body, object_pairs_hook=_refuse_duplicates)


async def unique_json_keys(request: Request) -> None:
    """JSON would take the last of two equal keys ("bureau": false, "bureau": true): refused
    instead, 400. Starlette keeps the body, so this re-reads it without a second receive."""
    body = await request.body()
    if body:
        with contextlib.suppress(ValueError):  # not JSON at all: the route's parser says so
            parse_unique(body)
