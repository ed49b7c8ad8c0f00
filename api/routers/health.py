"""``/health/live`` (the process answers) and ``/health/ready`` (its dependencies answer)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from api.schemas import LiveBody, ReadyBody
from probes.checks import ready_body
from probes.readiness import Readiness

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=LiveBody)
async def live() -> LiveBody:
    return LiveBody()


@router.get(
    "/ready",
    response_model=ReadyBody,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": ReadyBody}},
)
async def ready(request: Request, response: Response) -> ReadyBody:
    """200 when PostgreSQL and Temporal answer; 503 naming the parts that don't (the checks
    are the app's :class:`probes.readiness.Readiness`, which also exports the outcome)."""
    readiness = request.app.state.readiness
    assert isinstance(readiness, Readiness), "the app's lifespan has not run"
    body = ReadyBody.model_validate(ready_body(await readiness.evaluate()))
    if body.Failing:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return body
