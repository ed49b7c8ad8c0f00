"""``/health/live`` (the process answers) and ``/health/ready`` (its dependencies answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import ApiDeps, ApiResources, deps, resources
from api.schemas import LiveBody, ReadyBody
from probes.checks import check_database, check_temporal, ready_body, run_checks

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
    """200 when PostgreSQL and Temporal answer; 503 naming the parts that don't."""
    timeout_s = config.ready_timeout_s
    results = await run_checks(
        {
            # What the API itself needs; it never talks to the broker.
            "database": lambda: check_database(held.engine),
            "temporal": lambda: check_temporal(held.temporal, timeout_s),
        },
        timeout_s=timeout_s,
    )
    body = ReadyBody.model_validate(ready_body(results))
    if body.Failing:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return body
