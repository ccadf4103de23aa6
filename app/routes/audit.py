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
    """Verify the log (or one chain's seq range) against the latest signed digest."""
    partial = chain_id is not None or (from_seq or 1) > 1 or to_seq is not None
    digests = services.digests

    def run() -> dict[str, Any]:
        digest = digests.store.latest() if digests is not None else None
        signed = digest is not None and digests is not None and digest.verify(
            digests.signer.public_key)
        # The whole log is read from its lowest seq, so a forged entry before seq 1 shows.
        result = verify_entries(services.audit.entries(chain_id, from_seq if partial else None,
                                                       to_seq),
                                digest if signed else None, partial=partial)
        ok = result.ok and (digest is None or signed)
        return {"ok": ok, "checked": result.checked, "chains": result.chains,
                "first_bad": result.first_bad,
                "problem": result.problem if digest is None or signed
                else "the latest digest's signature does not verify",
                "digest_issued_at": digest.issued_at if digest else None}

    return await asyncio.to_thread(run)


@router.get("/digests/latest")
async def latest_digest(services: ServicesDep) -> dict[str, Any]:
    """The latest signed digest of all chain heads, with the public key to check it."""
    if services.digests is None:
        raise NotFound("no digest store configured")
    digest = await asyncio.to_thread(services.digests.store.latest)
    if digest is None:
        raise NotFound("no digest written yet")
    return {**digest.to_json(),
            "public_key_pem": public_key_pem(services.digests.signer.public_key).decode()}
