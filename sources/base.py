"""The enrichment port and its HTTP implementation.

A source answers `fetch(national_id)` with validated values and the SHA-256 of the raw
response (kept in the audit record), or raises DependencyError with a short reason.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ValidationError


class DependencyError(Exception):
    """A source failed; `reason` is a short machine code such as 'timeout'. Never reaches
    the caller: the enricher turns it into a degraded decision."""

    def __init__(self, source: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{source}: {reason} {detail}".strip())
        self.source = source
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SourceResult:
    values: dict[str, Any]
    raw_sha256: str
    latency_ms: float
    cached_at: str | None = None  # set when served from the feature store (ISO time of fetch)


class Source(Protocol):
    name: str

    async def fetch(self, national_id: str) -> SourceResult: ...


class HttpSource:
    """POST {"national_id": ...} to base_url + path; validate the answer against `schema`."""

    def __init__(self, name: str, client: httpx.AsyncClient, path: str,
                 schema: type[BaseModel]) -> None:
        self.name = name
        self._client = client
        self._path = path
        self._schema = schema

    async def fetch(self, national_id: str) -> SourceResult:
        start = time.perf_counter()
        try:
            resp = await self._client.post(self._path, json={"national_id": national_id})
        except httpx.TimeoutException as exc:
            raise DependencyError(self.name, "timeout", type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise DependencyError(self.name, "unreachable", type(exc).__name__) from exc
        if resp.status_code >= 500:
            raise DependencyError(self.name, "server_error", str(resp.status_code))
        if resp.status_code >= 400:
            raise DependencyError(self.name, "rejected", str(resp.status_code))
        return answer(self.name, self._schema, resp.content, start)


def answer(name: str, schema: type[BaseModel], content: bytes, start: float) -> SourceResult:
    """A source's raw answer, validated against its schema (any answer that does not fit it,
    a non-finite number included, is malformed), with the hash of exactly those bytes."""
    try:
        values = schema.model_validate_json(content).model_dump()
    except ValidationError as exc:
        raise DependencyError(name, "malformed", f"{exc.error_count()} errors") from exc
    return SourceResult(values, hashlib.sha256(content).hexdigest(),
                        (time.perf_counter() - start) * 1000)
