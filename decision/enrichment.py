"""Enrichment: ask every consented source at once, within one deadline; what fails or is late
becomes a recorded degradation, never an error for the caller.

Each degradation says which source and why (`reason`: timeout, unreachable, server_error,
rejected, malformed, circuit_open, deadline, no_consent) with the code `<source>_unavailable`.
The sources get the deadline minus a small margin (see sources/resilience.py), so they
normally give up on their own, with a precise reason, before the deadline cancels them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from audit.records import CacheHit, Degradation, SourceAnswer
from decision.application import Application
from sources import bureau, open_banking
from sources.base import DependencyError, Source, SourceResult
from sources.resilience import deadline_scope

# Source name -> (values -> raw feature fields, the raw fields when the source is missing).
_TO_RAW = {"bureau": bureau.to_raw, "open_banking": open_banking.to_raw}
# Time kept back from the sources' budget so that their own timeouts fire before ours.
_MARGIN_S = 0.01
_MISSING = {"bureau": {"records": None, "debt": None},
            "open_banking": {"income": None, "expenses": None, "assets": None}}


@dataclass
class Enrichment:
    sources: dict[str, SourceAnswer] = field(default_factory=dict)  # for the audit record
    degraded: list[Degradation] = field(default_factory=list)       # for the response

    def raw_fields(self) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for name, to_raw in _TO_RAW.items():
            got = self.sources.get(name)
            raw.update(to_raw(got.values) if got is not None and got.status == "ok"
                       else _MISSING[name])
        return raw

    def without_values(self) -> dict[str, SourceAnswer]:
        """The sources as a schema-2 record keeps them: their values go sealed elsewhere."""
        return {n: SourceAnswer(**a.model_dump(exclude={"values"}, exclude_unset=True))
                for n, a in self.sources.items()}

    def degrade(self, source: str, reason: str) -> None:
        self.degraded.append(Degradation(source=source, reason=reason, code=f"{source}_unavailable"))


class Enricher:
    def __init__(self, sources: dict[str, Source], deadline_s: float) -> None:
        self.sources = sources
        self.deadline_s = deadline_s

    async def enrich(self, app: Application) -> Enrichment:
        consent = {"bureau": app.consent.bureau, "open_banking": app.consent.open_banking}
        with deadline_scope(max(self.deadline_s - _MARGIN_S, 0.0)):
            tasks = {name: asyncio.create_task(src.fetch(app.applicant.national_id))
                     for name, src in self.sources.items() if consent.get(name)}
        if tasks:
            await asyncio.wait(tasks.values(), timeout=self.deadline_s)
        out = Enrichment()
        for name in self.sources:
            task = tasks.get(name)
            reason = _failure(task)
            if reason is None:
                res: SourceResult = task.result()  # type: ignore[union-attr]
                hit = ({} if res.cached_at is None
                       else {"cache": CacheHit(hit=True, fetched_at=res.cached_at)})
                out.sources[name] = SourceAnswer(status="ok", values=res.values,
                                                 raw_sha256=res.raw_sha256,
                                                 latency_ms=round(res.latency_ms, 3), **hit)
            else:
                out.sources[name] = SourceAnswer(status="degraded", reason=reason)
                out.degrade(name, reason)
        return out


def _failure(task: asyncio.Task | None) -> str | None:
    """Why a source gave nothing (None if it answered)."""
    if task is None:
        return "no_consent"
    if not task.done():
        task.cancel()
        return "deadline"
    exc = task.exception()
    if exc is None:
        return None
    return exc.reason if isinstance(exc, DependencyError) else "error"
