"""The review desk over HTTP: the queue (`reviews:read`), reviewer decisions and overrides
(`reviews:write`), contests (`decisions:write`, the lending app on the applicant's behalf) and
the applicant's explanation (`decisions:read`). The actor recorded is the API key's id."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status
from fastapi.responses import HTMLResponse

from app.api_keys import Principal
from app.auth import require
from app.deps import ServicesDep
from app.review_schemas import (
    CURSOR,
    CaseDetailOut,
    CaseOut,
    CasePage,
    ContestIn,
    OverrideIn,
    ReviewDecisionIn,
    case_out,
    cursor_of,
    parse_cursor,
)
from app.schemas import Country, ErrorOut
from review.explanation import ExplanationDoc, explain, language_of, render_html
from review.model import CaseQuery

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])
decisions_router = APIRouter(prefix="/v1/decisions", tags=["reviews"])
_ERR = {s: {"model": ErrorOut} for s in (401, 403, 404, 429, 503)}
_ACT = {**_ERR, **{s: {"model": ErrorOut} for s in (400, 409, 413)}}
ReviewId = Annotated[str, Path(max_length=100)]
DecisionId = Annotated[str, Path(max_length=100)]


@router.get("", response_model=CasePage, responses=_ERR)
async def list_reviews(services: ServicesDep,
                       _: Annotated[Principal, Depends(require("reviews:read"))],
                       status_: Annotated[Literal["open", "decided"], Query(alias="status")] = "open",
                       country: Country | None = None,
                       kind: Literal["referral", "override", "contest"] | None = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       cursor: Annotated[str | None, Query(pattern=CURSOR)] = None) -> CasePage:
    """Cases, contests first, then oldest first, with their due time (SLA per country) and
    why they are here. Pass `next_cursor` back as `cursor` for the next page."""
    q = CaseQuery(status=status_, country=country, kind=kind, limit=limit + 1,
                  after=parse_cursor(cursor) if cursor else None)
    cases = await asyncio.to_thread(services.reviews.store.list_cases, q)
    at = datetime.now(UTC).isoformat()
    page = cases[:limit]
    return CasePage(items=[case_out(c, at) for c in page],
                    next_cursor=cursor_of(page[-1]) if len(cases) > limit else None)


@router.get("/{review_id}", response_model=CaseDetailOut, responses=_ERR)
async def get_review(review_id: ReviewId, services: ServicesDep,
                     _: Annotated[Principal, Depends(require("reviews:read"))]) -> CaseDetailOut:
    """One case with its votes, the reviewers' notes and, for a contest, the applicant's
    statement (opened with the customer's data key; null once erased)."""
    return await asyncio.to_thread(_detail, services, review_id)


def _detail(services, review_id: str) -> CaseDetailOut:  # noqa: ANN001
    desk = services.reviews
    case = desk.case(review_id)
    actions = [a for a in desk.store.actions_for(case.decision_id) if a.review_id == review_id]
    notes, statement = {}, None
    for a in actions:
        rec = a.parsed()
        if rec.type == "decision_contest":
            statement = desk.open_text(rec.statement, a.action_id)
        elif getattr(rec, "note", None) is not None:
            notes[a.action_id] = desk.open_text(rec.note, a.action_id)
    out = case_out(case, datetime.now(UTC).isoformat())
    return CaseDetailOut(**out.model_dump(), notes=notes, statement=statement)


@router.post("/{review_id}/decision", response_model=CaseOut, responses=_ACT)
async def decide(review_id: ReviewId, body: ReviewDecisionIn, services: ServicesDep,
                 principal: Annotated[Principal, Depends(require("reviews:write"))]) -> CaseOut:
    """A reviewer's decision with a reason code. Above the country's four-eyes amount the
    case needs two different keys agreeing; the same key twice gets 409 same_reviewer, and
    of concurrent decisions on one case exactly one takes effect (the others: 409)."""
    case = await asyncio.to_thread(services.reviews.decide, review_id, body.outcome,
                                   body.reason_code, body.note, principal.key_id)
    return case_out(case, datetime.now(UTC).isoformat())


@decisions_router.post("/{decision_id}/override", response_model=CaseOut, responses=_ACT,
                       status_code=status.HTTP_201_CREATED)
async def override(decision_id: DecisionId, body: OverrideIn, services: ServicesDep,
                   principal: Annotated[Principal, Depends(require("reviews:write"))]) -> CaseOut:
    """Reverse an automated approve or decline, with a reason code and a note. Opens an
    override case holding this vote; above the four-eyes amount a second reviewer confirms
    it with POST /v1/reviews/{review_id}/decision."""
    case = await asyncio.to_thread(services.reviews.override, decision_id, body.outcome,
                                   body.reason_code, body.note, principal.key_id)
    return case_out(case, datetime.now(UTC).isoformat())


@decisions_router.post("/{decision_id}/contest", response_model=CaseOut, responses=_ACT,
                       status_code=status.HTTP_201_CREATED)
async def contest(decision_id: DecisionId, body: ContestIn, services: ServicesDep,
                  principal: Annotated[Principal, Depends(require("decisions:write"))]) -> CaseOut:
    """The applicant contests a declined decision (their statement, filed by the lending
    app): a priority case that the reviewers who decided it before may not decide."""
    case = await asyncio.to_thread(services.reviews.contest, decision_id, body.statement,
                                   principal.key_id)
    return case_out(case, datetime.now(UTC).isoformat())


@decisions_router.get(
    "/{decision_id}/explanation", response_model=ExplanationDoc,
    responses={**_ERR, 200: {"content": {"text/html": {}}}},
    dependencies=[Depends(require("decisions:read"))])
async def explanation(decision_id: DecisionId, services: ServicesDep,
                      accept_language: Annotated[str | None, Header(max_length=200)] = None,
                      accept: Annotated[str | None, Header(max_length=500)] = None,
                      format_: Annotated[Literal["json", "html"] | None,
                                         Query(alias="format")] = None) -> Response:
    """The decision explained for the applicant, in Spanish or English (Accept-Language):
    the final outcome, at most four principal reasons among the factors actually scored, the
    data sources used, how to contest, and for a final decline the adverse-action notice.
    JSON, or HTML with `Accept: text/html` or `?format=html`."""
    doc = await asyncio.to_thread(_explain, services, decision_id, language_of(accept_language))
    html = format_ == "html" or (format_ is None and "text/html" in (accept or ""))
    if html:
        # A stand-alone document: its own inline styles, nothing else.
        return HTMLResponse(render_html(doc), headers={
            "Content-Language": doc.language, "Content-Security-Policy":
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"})
    return Response(doc.model_dump_json(), media_type="application/json",
                    headers={"Content-Language": doc.language})


def _explain(services, decision_id: str, language: str) -> ExplanationDoc:  # noqa: ANN001
    desk = services.reviews
    _, record = desk.decision(decision_id)
    return explain(record, desk.story(record), desk.store.get_notice(decision_id),
                   desk.reasons, language)  # type: ignore[arg-type]
