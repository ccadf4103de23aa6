"""A decision's story for GET /v1/decisions/{id}: its final outcome and the human actions
that led there, each linked to its own audit entry. Notes and statements stay sealed here
(reviewers read them through GET /v1/reviews/{id})."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from audit.records import DecisionRecord


async def story_json(services: Any, record: DecisionRecord) -> dict[str, Any]:
    """{"final_outcome", "human_actions"}; if the review store cannot be read, both are null
    and `review_unavailable` says so (the audited record is served all the same)."""
    try:
        story = await asyncio.to_thread(services.reviews.story, record)
    except Exception as exc:  # noqa: BLE001 - a degradation, never a 500
        structlog.get_logger("credit.review").warning("review_story_unavailable",
                                                      error_type=type(exc).__name__)
        return {"final_outcome": None, "human_actions": None, "review_unavailable": True}
    return {"final_outcome": story.final_outcome,
            "human_actions": [_action(a) for a in story.actions]}


def _action(a: Any) -> dict[str, Any]:
    rec = a.parsed()
    return {"type": a.type, "action_id": a.action_id, "review_id": a.review_id or None,
            "at": a.at, "actor": a.actor, "outcome": getattr(rec, "outcome", None),
            "reason_code": getattr(rec, "reason_code", None),
            "audit": {"chain_id": a.chain_id, "seq": a.seq, "hash": a.entry_hash,
                      "decision_hash": rec.decision_hash}}
