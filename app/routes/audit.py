"""Auditor endpoints: chain verification and the latest signed digest (`audit:export`)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query

from app.auth import require
from app.deps import ServicesDep
from app.errors import NotFound
from app.schemas import ErrorOut
from audit.digest import public_key_pem
from audit.verify import verify_entries

_MAX_SEQ = 2**62  # sequence numbers are 64-bit integers in both backends
router = APIRouter(prefix="/v1/audit", tags=["audit"],
                   dependencies=[Depends(require("audit:export"))],
                   responses={status: {"model": ErrorOut} for status in (401, 403, 404)})


@router.get("/verify")
async def verify(services: ServicesDep, chain_id: str | None = None,
                 from_seq: int | None = Query(None, ge=1, le=_MAX_SEQ),
                 to_seq: int | None = Query(None, ge=1, le=_MAX_SEQ)) -> dict[str, Any]:
    """Verify the log (or one whole chain) against the latest signed digest and the newest
    anchored one; with from_seq/to_seq, only that range's links. One thread: for a large
    log use `credit audit verify`, which checks ranges in a process per CPU."""
    b = services.builder

    def run() -> dict[str, Any]:
        if from_seq is not None or to_seq is not None:
            result = verify_entries(b.audit.entries(chain_id, from_seq, to_seq), partial=True)
            return {"ok": result.ok, "checked": result.checked, "chains": result.chains,
                    "first_bad": result.first_bad, "problem": result.problem,
                    "complete_until": None, "anchored_until": None, "unanchored": None}
        report = b.verify(chain_id)
        r = report.result
        return {"ok": r.ok, "checked": r.checked, "chains": r.chains, "first_bad": r.first_bad,
                "problem": r.problem, "complete_until": report.proven_until,
                "anchored_until": report.anchored_until, "unanchored": report.unanchored,
                "summary": report.summary()}

    return await asyncio.to_thread(run)


@router.get("/digests/latest")
async def latest_digest(services: ServicesDep) -> dict[str, Any]:
    """The latest signed digest of all chain heads, with the public key to check it."""
    digest = await asyncio.to_thread(services.builder.digest_store.latest)
    if digest is None:
        raise NotFound("no digest written yet")
    return {**digest.to_json(),
            "public_key_pem": public_key_pem(services.builder.digest_signer.public_key).decode()}
