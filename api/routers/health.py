"""``/health/live`` (the process answers) and ``/health/ready`` (its dependencies answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import ApiDeps, ApiResources, deps, resources
from api.readiness import check_all
from api.schemas import CheckBody, LiveBody, ReadyBody

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=LiveBody)
async def live() -> LiveBody:
    return LiveBody()


@router.get(
    "/ready",
    response_model=ReadyBody,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": ReadyBody}},
)
async def ready(
    response: Response,
    held: Annotated[ApiResources, Depends(resources)],
    config: Annotated[ApiDeps, Depends(deps)],
) -> ReadyBody:
    """200 when PostgreSQL, Temporal and Kafka answer; 503 naming the parts that don't."""
    results = await check_all(
        held.engine, held.temporal, held.kafka, timeout_s=config.ready_timeout_s
    )
    failing = [result.name for result in results if not result.ok]
    if failing:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return ReadyBody(
        Status="unavailable" if failing else "ready",
        Failing=failing,
        Checks={result.name: CheckBody(Ok=result.ok, Error=result.error) for result in results},
    )
