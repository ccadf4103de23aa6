from __future__ import annotations

import asyncio
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Response

from app.api_keys import Principal
from app.auth import require
from app.deps import ServicesDep, unique_json_keys
from app.errors import NotFound
from app.routes.review_story import story_json
from app.schemas import Application, DecisionOut, ErrorOut
from audit.records import parse_record, to_json

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])
_AUTH = {status: {"model": ErrorOut} for status in (401, 403, 429)}
_ERRORS = {**_AUTH, **{status: {"model": ErrorOut} for status in (400, 409, 413, 503)}}


@router.post("", response_model=DecisionOut, responses=_ERRORS,
             dependencies=[Depends(unique_json_keys)])
async def create_decision(application: Application, services: ServicesDep,
                          principal: Annotated[Principal, Depends(require("decisions:write"))],
                          accept_language: Annotated[str, Header()] = "en") -> Response:
    await services.limiter.client(principal.key_id)
    language = "es" if accept_language.lower().startswith("es") else "en"
    outcome = await services.orchestrator.decide(application, language)
    # Sorted keys: a replayed decision (read back from the audit log) is byte-identical.
    return Response(orjson.dumps(outcome.response, option=orjson.OPT_SORT_KEYS),
                    media_type="application/json",
                    headers={"Idempotent-Replayed": "false" if outcome.created else "true"})


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
