"""Console pages of the review desk: the queue (SLA badges) and one case (the decision, its
waterfall and sources, the votes, the four-eyes state and the reviewer's form). Reading needs
`reviews:read`; deciding `reviews:write` and a CSRF token, and goes through the same desk as
POST /v1/reviews/{id}/decision (audited first, compare-and-set)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.console import waterfall
from app.console.web import ConsoleUser, check_csrf, need, page
from app.deps import ServicesDep
from app.errors import status_of
from app.review_schemas import CURSOR, cursor_of, parse_cursor, sla_state
from decision.application import COUNTRIES
from review.errors import ReviewError
from review.model import CaseQuery

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 25


@router.get("/reviews", response_class=HTMLResponse)
async def queue(request: Request, services: ServicesDep,
                user: Annotated[ConsoleUser, Depends(need("reviews:read"))],
                status: Annotated[str, Query(pattern="^(open|decided)$")] = "open",
                country: Annotated[str, Query(pattern="^(|[A-Z]{2})$")] = "",
                kind: Annotated[str, Query(pattern="^(|referral|override|contest)$")] = "",
                cursor: Annotated[str, Query(pattern=f"^$|{CURSOR}")] = "") -> Response:
    q = CaseQuery(status=status, country=country or None, kind=kind or None,  # type: ignore[arg-type]
                  limit=PAGE_SIZE + 1, after=parse_cursor(cursor) if cursor else None)
    cases = await asyncio.to_thread(services.reviews.store.list_cases, q)
    at = datetime.now(UTC).isoformat()
    shown = cases[:PAGE_SIZE]
    filters = {"status": status, "country": country, "kind": kind}
    more = urlencode({**filters, "cursor": cursor_of(shown[-1])}) if len(cases) > PAGE_SIZE else None
    return page(request, "reviews.html", user, nav="reviews", filters=filters,
                countries=COUNTRIES, more=more,
                rows=[{"case": c, "sla": sla_state(c, at)} for c in shown])


@router.get("/reviews/{review_id}", response_class=HTMLResponse)
async def case_page(request: Request, review_id: str, services: ServicesDep,
                    user: Annotated[ConsoleUser, Depends(need("reviews:read"))],
                    done: str | None = None) -> Response:
    try:
        view = await asyncio.to_thread(_case_view, services, review_id, user)
    except ReviewError as exc:
        return page(request, "message.html", user, status_code=404, title="Not found",
                    message=str(exc))
    return page(request, "review.html", user, nav="reviews", done=done, **view)


@router.post("/reviews/{review_id}/decision", response_class=HTMLResponse)
async def decide(request: Request, review_id: str, services: ServicesDep,
                 user: Annotated[ConsoleUser, Depends(need("reviews:write"))],
                 outcome: Annotated[str, Form()], reason_code: Annotated[str, Form()],
                 note: Annotated[str, Form(max_length=2000)] = "",
                 csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    if outcome not in ("approve", "decline"):
        return page(request, "message.html", user, status_code=400, title="Not done",
                    message="Choose approve or decline.")
    try:
        await asyncio.to_thread(services.reviews.decide, review_id, outcome, reason_code,
                                note.strip() or None, user.principal.key_id)
    except ReviewError as exc:
        return page(request, "message.html", user, status_code=status_of(exc)[0],
                    title="Not done", message=str(exc))
    return RedirectResponse(f"/console/reviews/{review_id}?done=1", status_code=303)


def _case_view(services: Any, review_id: str, user: ConsoleUser) -> dict[str, Any]:
    desk = services.reviews
    case = desk.case(review_id)
    entry, rec = desk.decision(case.decision_id)
    actions = desk.store.actions_for(case.decision_id)
    notes: dict[str, str | None] = {}
    statement = None
    for a in actions:
        parsed = a.parsed()
        if parsed.type == "decision_contest" and a.review_id == review_id:
            statement = desk.open_text(parsed.statement, a.action_id)
        elif getattr(parsed, "note", None) is not None:
            notes[a.action_id] = desk.open_text(parsed.note, a.action_id)
    chart = None
    if rec.explanation is not None and rec.score is not None:
        rows, box = waterfall.layout(waterfall.bars(rec.explanation.base_value,
                                                    rec.explanation.contributions))
        chart = {"rows": rows, "box": box, "log_odds": rec.score.log_odds}
    inputs = services.builder.record_reader.inputs(rec)  # personal inputs: only this seam
    why_not = _why_not(case, user.principal.key_id)
    return {"case": case, "rec": rec, "entry": entry, "chart": chart, "notes": notes,
            "statement": statement, "actions": actions,
            "loan": None if inputs is None else {k: inputs.raw_inputs.get(k)
                                                 for k in ("amount", "price", "time")},
            "sla": sla_state(case, datetime.now(UTC).isoformat()),
            "codes": {o: desk.reasons.for_outcome(o) for o in ("approve", "decline")},
            "codes_version": desk.reasons.version, "why_not": why_not,
            "can_decide": user.can("reviews:write") and why_not is None,
            "story": desk.story(rec)}


def _why_not(case: Any, me: str) -> str | None:
    """Why this reviewer may not decide the case (the desk would refuse), or None."""
    if case.outcome is not None:
        return "This case is decided."
    if me in case.excluded:
        return "You decided this decision before: another reviewer must decide the contest."
    if any(v.actor == me for v in case.votes):
        return "You already decided this case: four eyes needs a different reviewer."
    return None
