from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.auth import require
from app.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(require("metrics:read"))])
async def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics_registry), media_type=CONTENT_TYPE_LATEST)
