"""``/orders``: read from PostgreSQL through the repository; status changes through the
order's workflow. All routes need the bearer token when one is configured."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from api import status_change
from api.auth import require_token
from api.deps import ApiDeps, ApiResources, correlation_id, deps, resources, session
from api.schemas import (
    ErrorBody,
    OrderBody,
    OrderPageBody,
    StatusChangeBody,
    StatusChangedBody,
)
from contracts.order_create_v1 import (
    LOCATION_ID_MAX_LENGTH,
    ORDER_ID_MAX_LENGTH,
    ORDER_ID_PATTERN,
)
from contracts.status import OrderStatus
from db.repository import InvalidCursorError, get_order, list_orders

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

router = APIRouter(
    prefix="/orders",
    tags=["orders"],
    dependencies=[Depends(require_token)],
    responses={status.HTTP_401_UNAUTHORIZED: {"model": ErrorBody}},
)

OrderId = Annotated[
    str,
    Path(min_length=1, max_length=ORDER_ID_MAX_LENGTH, pattern=ORDER_ID_PATTERN),
]
Session = Annotated[AsyncSession, Depends(session)]


@router.get("", response_model=OrderPageBody)
async def list_(
    db: Session,
    status_code: Annotated[
        OrderStatus | None, Query(alias="status", description="Only orders in this status")
    ] = None,
    ship_from_location_id: Annotated[
        str | None, Query(min_length=1, max_length=LOCATION_ID_MAX_LENGTH)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(description="NextCursor of the previous page")] = None,
) -> OrderPageBody:
    """Orders newest first, one page at a time (keyset pagination)."""
    try:
        page = await list_orders(
            db,
            status=None if status_code is None else int(status_code),
            ship_from_location_id=ship_from_location_id,
            limit=limit,
            cursor=cursor,
        )
    except InvalidCursorError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}],
        ) from exc
    return OrderPageBody.of(page)


@router.get(
    "/{order_id}",
    response_model=OrderBody,
    responses={status.HTTP_404_NOT_FOUND: {"model": ErrorBody}},
)
async def get(order_id: OrderId, db: Session) -> OrderBody:
    """The order with its lines and status history."""
    order = await get_order(db, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order_id} not found")
    return OrderBody.of(order)


@router.post(
    "/{order_id}/status",
    response_model=StatusChangedBody,
    responses={
        status.HTTP_404_NOT_FOUND: {"model": ErrorBody, "description": "Unknown or not Open yet"},
        status.HTTP_409_CONFLICT: {"model": ErrorBody, "description": "Transition refused"},
        status.HTTP_503_SERVICE_UNAVAILABLE: {"model": ErrorBody},
        status.HTTP_504_GATEWAY_TIMEOUT: {"model": ErrorBody},
    },
)
async def change_status(
    order_id: OrderId,
    body: StatusChangeBody,
    held: Annotated[ApiResources, Depends(resources)],
    config: Annotated[ApiDeps, Depends(deps)],
    correlation: Annotated[str, Depends(correlation_id)],
) -> StatusChangedBody:
    """Move the order to ``ToStatus`` through its workflow's ``change_status`` update."""
    result = await status_change.change_status(
        held.temporal,
        held.session_factory,
        order_id,
        to_status=int(body.ToStatus),
        reason=body.Reason or None,
        correlation_id=correlation,
        timeout_s=config.update_timeout_s,
    )
    return StatusChangedBody(
        OrderID=result.order_id,
        FromStatus=result.from_status,
        StatusCode=result.to_status,
        StatusName=result.status_name,
        ChangedAt=result.changed_at,
        CorrelationID=correlation,
    )
