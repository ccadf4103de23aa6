from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.routing import APIRoute

from app.api_keys import Principal
from app.auth import authorize, require
from app.deps import ServicesDep, parse_unique, unique_json_keys
from app.errors import NotFound
from app.routes.review_story import story_json
from app.schemas import Application, DecisionOut, ErrorOut
from audit.records import parse_record, to_json

_WRITE = "decisions:write"


class _DecisionRoute(APIRoute):
    """POST /v1/decisions, documented and checked by FastAPI like every route; but a
    request that needs none of its error handling (a JSON body without repeated keys that
    validates, sent with a key holding the scope) skips FastAPI's per-request dependency
    solving, about 6% of a decision's CPU (ADR 0154). Any other request takes FastAPI's own
    handler from the start, so every error, and the order of the checks (400 repeated key,
    403 scope, 422 body), is FastAPI's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        checked = super().get_route_handler()

        async def handler(request: Request) -> Response:
            args = await _plain_arguments(request)
            return await checked(request) if args is None else await create_decision(**args)

        return handler


async def _plain_arguments(request: Request) -> dict[str, Any] | None:
    """`create_decision`'s arguments, as FastAPI would give them; None when anything is off
    (then FastAPI says what)."""
    content_type = request.headers.get("content-type", "")
    if content_type != "application/json" and not content_type.startswith("application/json;"):
        return None
    try:
        principal = await authorize(request, _WRITE)
        application = Application.model_validate(parse_unique(await request.body()))
    except Exception:  # noqa: BLE001 - FastAPI's handler, from the start, says what it was
        return None
    return {"application": application, "services": request.app.state.services,
            "principal": principal,
            "accept_language": request.headers.get("accept-language", "en")}


router = APIRouter(prefix="/v1/decisions", tags=["decisions"])
_AUTH = {status: {"model": ErrorOut} for status in (401, 403, 429)}
_ERRORS = {**_AUTH, **{status: {"model": ErrorOut} for status in (400, 409, 413, 503)}}


async def create_decision(application: Application, services: ServicesDep,
                          principal: Annotated[Principal, Depends(require(_WRITE))],
                          accept_language: Annotated[str, Header()] = "en") -> Response:
    await services.limiter.client(principal.key_id)
    language = "es" if accept_language.lower().startswith("es") else "en"
    outcome = await services.orchestrator.decide(application, language)
    # Sorted keys: a replayed decision (read back from the audit log) is byte-identical.
    return Response(orjson.dumps(outcome.response, option=orjson.OPT_SORT_KEYS),
                    media_type="application/json",
                    headers={"Idempotent-Replayed": "false" if outcome.created else "true"})


router.add_api_route("", create_decision, methods=["POST"], response_model=DecisionOut,
                     responses=_ERRORS, dependencies=[Depends(unique_json_keys)],
                     route_class_override=_DecisionRoute)


@router.get("/{decision_id}", responses={**_AUTH, 404: {"model": ErrorOut}},
            dependencies=[Depends(require("decisions:read"))])
async def get_decision(decision_id: str, services: ServicesDep) -> Response:
    """The audited record, its place in the hash chain, and its personal data opened with
    the customer's data key (`personal_data`: null once the customer was erased)."""
    entry = await asyncio.to_thread(services.audit.get_decision, decision_id)
    if entry is None:
        raise NotFound("no decision with that id")
    parsed = parse_record(entry.body)
    personal = await asyncio.to_thread(services.builder.record_reader.personal, parsed)
    doc = to_json(parsed)
    doc["chain"] = entry.chain_position()
    doc["personal_data"] = to_json(personal) if personal is not None else None
    doc.update(await story_json(services, parsed))
    return Response(orjson.dumps(doc), media_type="application/json")
