"""Run-time fault injection for the simulators, one setting per endpoint, driven over HTTP.

    PUT    /_faults/{endpoint}   set the faults of `bureau` or `open_banking` (body: Faults)
    GET    /_faults/{endpoint}   the current faults and how many calls the endpoint received
    DELETE /_faults              heal every endpoint, zero the call counters, release hangs

Order of effects on one call: hang, added latency, `fail_next`, `error_rate`,
`malformed_rate`, then the normal answer. Random effects draw from a generator seeded by
`seed`, so a test that sets a seed sees the same sequence of failures on every run.
"Refused connections" are not simulated here: a closed port refuses for real (see
tests/integration/test_enrichment_faults.py).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

ENDPOINTS = ("bureau", "open_banking")


class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    jitter_ms: float = Field(default=0.0, ge=0, le=60_000)  # uniform extra latency in [0, jitter]
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_status: int = Field(default=503, ge=400, le=599)   # 4xx here simulates a rejection
    fail_next: int = Field(default=0, ge=0, le=1_000_000)    # the next N calls fail, then heal
    hang: bool = False               # accept the request, never answer (until faults change)
    malformed_rate: float = Field(default=0.0, ge=0, le=1)  # 200 with a body off the schema
    # Fields answered with these raw JSON tokens instead (e.g. {"debt": "1e400"} or
    # "Infinity", which no standard encoder writes): hostile numbers from a source.
    raw_fields: dict[str, str] = Field(default_factory=dict)
    seed: int | None = None


@dataclass
class _Endpoint:
    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=random.Random)
    calls: int = 0
    fail_left: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def set(self, faults: Faults) -> None:
        self.release.set()  # hanging calls give up when the faults change
        self.release = asyncio.Event()
        self.faults = faults
        self.rng = random.Random(faults.seed)  # nosec B311
        self.fail_left = faults.fail_next


class FaultInjector:
    def __init__(self) -> None:
        self.endpoints = {name: _Endpoint() for name in ENDPOINTS}

    def reset(self) -> None:
        for ep in self.endpoints.values():
            ep.set(Faults())
            ep.calls = 0

    async def answer(self, endpoint: str, produce: Callable[[], dict[str, Any]]) -> Response:
        ep = self.endpoints[endpoint]
        ep.calls += 1
        f = ep.faults
        if f.hang:
            await ep.release.wait()
            return JSONResponse({"error": "hang released"}, status_code=503)
        delay = f.latency_ms + (ep.rng.uniform(0, f.jitter_ms) if f.jitter_ms else 0.0)
        if delay:
            await asyncio.sleep(delay / 1000)
        if ep.fail_left > 0:
            ep.fail_left -= 1
            return JSONResponse({"error": "injected failure"}, status_code=f.error_status)
        if f.error_rate and ep.rng.random() < f.error_rate:
            return JSONResponse({"error": "injected failure"}, status_code=f.error_status)
        if f.malformed_rate and ep.rng.random() < f.malformed_rate:
            return JSONResponse({"unexpected": "shape", "debt": "lots"})
        if f.raw_fields:
            kept = {k: v for k, v in produce().items() if k not in f.raw_fields}
            raw = ", ".join(f"{json.dumps(k)}: {v}" for k, v in f.raw_fields.items())
            body = json.dumps(kept)[:-1] + (", " if kept else "") + raw + "}"
            return Response(body, media_type="application/json")
        return JSONResponse(produce())


def mount_fault_routes(root: FastAPI, injector: FaultInjector) -> None:
    router = APIRouter(prefix="/_faults", tags=["faults"])

    def endpoint(name: str) -> _Endpoint:
        if name not in injector.endpoints:
            raise HTTPException(404, f"unknown endpoint {name!r}; one of {', '.join(ENDPOINTS)}")
        return injector.endpoints[name]

    def view(name: str) -> dict[str, Any]:
        ep = endpoint(name)
        return {"endpoint": name, "faults": ep.faults.model_dump(), "calls": ep.calls}

    @router.put("/{name}")
    async def set_faults(name: str, faults: Faults) -> dict[str, Any]:
        endpoint(name).set(faults)
        return view(name)

    @router.get("/{name}")
    async def get_faults(name: str) -> dict[str, Any]:
        return view(name)

    @router.delete("")
    async def reset() -> dict[str, Any]:
        injector.reset()
        return {"reset": list(ENDPOINTS)}

    root.include_router(router)
