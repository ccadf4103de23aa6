from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.auth import require
from app.deps import ServicesDep
from app.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(require("metrics:read"))])
async def metrics(services: ServicesDep) -> Response:
    return Response(exposition(services.metrics_registry), media_type=CONTENT_TYPE_LATEST)
