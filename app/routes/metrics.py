from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.auth import require
from app.deps import ServicesDep
from app.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(require("metrics:read"))])
async def metrics(services: ServicesDep) -> Response:
    # In a thread: the review desk's metrics read its store.
    body = await asyncio.to_thread(exposition, services.metrics_registry, services.shared_metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
