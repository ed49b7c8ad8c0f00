"""``/orders``: read from PostgreSQL through the repository, whose views are the response
bodies; status changes through the order's workflow. All routes need the bearer token when one
is configured."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from api import status_change
from api.auth import require_token
from api.deps import ApiDeps, ApiResources, correlation_id, deps, resources, session
from api.schemas import ErrorBody, StatusChangeBody, StatusChangedBody
from contracts.limits import (
    DEFAULT_PAGE_SIZE,
    LOCATION_ID_MAX_LENGTH,
    MAX_PAGE_SIZE,
    ORDER_ID_MAX_LENGTH,
    ORDER_ID_PATTERN,
)
from contracts.status import OrderStatus
from db.repository import InvalidCursorError, OrderPage, OrderView, get_order, list_orders

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


@router.get("", response_model=OrderPage)
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
) -> OrderPage:
    """Orders newest first, one page at a time (keyset pagination)."""
    try:
        return await list_orders(
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


@router.get(
    "/{order_id}",
    response_model=OrderView,
    responses={status.HTTP_404_NOT_FOUND: {"model": ErrorBody}},
)
async def get(order_id: OrderId, db: Session) -> OrderView:
    """The order with its lines and status history."""
    order = await get_order(db, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order_id} not found")
    return order


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
