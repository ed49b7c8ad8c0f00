"""Reads and idempotent writes of orders. Callers own the transaction::

    async with session_factory.begin() as session:
        result = await upsert_order(session, order)

Every write is safe to repeat, because activities run at least once:

* :func:`upsert_order` inserts with ``ON CONFLICT DO NOTHING``. A repeat with the same content
  changes nothing and writes no second history row; the same ``OrderID`` with different content
  raises :class:`OrderConflictError` and leaves the stored order untouched. Concurrent upserts
  of one order serialize on the primary key: exactly one inserts, the others see its row.
* :func:`change_status` is a compare-and-set on ``status_code``. A repeat of a change that
  already happened returns ``applied=False``. Illegal transitions are refused here and, should
  anything bypass this code, by a trigger in the database.

History rows are written by database triggers in the same transaction as the change; this
module passes the source, correlation ID and reason through the ``orders.status_*`` columns.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.status import transition_refusal
from db.errors import (
    InvalidCursorError,
    InvalidTransitionError,
    OrderConflictError,
    OrderNotFoundError,
    StaleStatusError,
)
from db.models import Order, OrderLine, OrderStatusHistory
from db.records import (
    NewOrder,
    NewOrderLine,
    OrderLineView,
    OrderPage,
    OrderSummary,
    OrderView,
    StatusChange,
    StatusHistoryEntry,
    UpsertResult,
    as_utc,
    status_name,
)

__all__ = [
    "InvalidCursorError",
    "InvalidTransitionError",
    "NewOrder",
    "NewOrderLine",
    "OrderConflictError",
    "OrderLineView",
    "OrderNotFoundError",
    "OrderPage",
    "OrderSummary",
    "OrderView",
    "StaleStatusError",
    "StatusChange",
    "StatusHistoryEntry",
    "UpsertResult",
    "change_status",
    "decode_cursor",
    "encode_cursor",
    "get_order",
    "list_orders",
    "status_name",
    "upsert_order",
]

MAX_PAGE_SIZE = 1000
# Raised by the orders trigger when a status change is not in the contract's table.
TRANSITION_CONSTRAINT = "ck_orders_status_transition"

# Fields that make up an order's content. Not part of it: correlation_id, raw_message, source —
# a re-published message with a new MessageID or CorrelationID is the same order.
_HEADER_FIELDS = (
    "ship_from_location_id",
    "org_id",
    "customer_id",
    "currency_code",
    "captured_date",
    "order_sub_total",
    "total_charges",
    "total_taxes",
    "total_discounts",
    "order_total",
)
_LINE_FIELDS = ("item_id", "quantity", "uom", "unit_price", "ship_from_location_id")


# --------------------------------------------------------------------------- upsert


async def upsert_order(session: AsyncSession, order: NewOrder) -> UpsertResult:
    """Store ``order`` with its lines and first history row, or confirm it is already stored.

    Returns ``created=True`` for the first call, ``created=False`` (and the current status) for
    a repeat with the same content. Raises :class:`OrderConflictError` when the stored order
    differs (header fields, or the set and content of lines).
    """
    values = {field: getattr(order, field) for field in _HEADER_FIELDS}
    values["captured_date"] = as_utc(order.captured_date)
    inserted = await session.execute(
        pg_insert(Order)
        .values(
            order_id=order.order_id,
            correlation_id=order.correlation_id,
            raw_message=order.raw_message,
            status_source=order.source,
            status_correlation_id=order.correlation_id,
            **values,
        )
        .on_conflict_do_nothing(index_elements=[Order.order_id])
        .returning(Order.status_code)
    )
    status_code = inserted.scalar_one_or_none()
    if status_code is not None:
        if order.lines:
            await session.execute(
                insert(OrderLine),
                [
                    {"order_id": order.order_id, "line_number": number, **_line_values(line)}
                    for number, line in enumerate(order.lines, start=1)
                ],
            )
        return UpsertResult(created=True, status_code=status_code)

    # The order exists (if another transaction was inserting it, ON CONFLICT waited for its
    # commit, so its lines are visible now).
    stored = (
        await session.execute(select(Order).where(Order.order_id == order.order_id))
    ).scalar_one()
    stored_lines = (
        await session.execute(select(OrderLine).where(OrderLine.order_id == order.order_id))
    ).scalars()
    differences = _differences(order, stored, {line.order_line_id: line for line in stored_lines})
    if differences:
        raise OrderConflictError(order.order_id, differences)
    return UpsertResult(created=False, status_code=stored.status_code)


def _line_values(line: NewOrderLine) -> dict[str, Any]:
    return {"order_line_id": line.order_line_id} | {
        field: getattr(line, field) for field in _LINE_FIELDS
    }


def _differences(
    order: NewOrder, stored: Order, stored_lines: dict[str, OrderLine]
) -> tuple[str, ...]:
    """Names of the fields in which ``order`` differs from the stored one (values compared,
    so ``1.5`` equals ``1.5000`` and a timestamp equals the same instant in another zone)."""
    differences = [
        field
        for field in _HEADER_FIELDS
        if _normalized(getattr(order, field)) != _normalized(getattr(stored, field))
    ]
    wanted = {line.order_line_id: line for line in order.lines}
    if wanted.keys() != stored_lines.keys():
        differences.append("OrderLines")
    else:
        for position, line in enumerate(order.lines):
            have = stored_lines[line.order_line_id]
            if have.line_number != position + 1:
                differences.append(f"OrderLines[{position}]")
            differences.extend(
                f"OrderLines[{position}].{field}"
                for field in _LINE_FIELDS
                if getattr(line, field) != getattr(have, field)
            )
    return tuple(differences)


def _normalized(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


# --------------------------------------------------------------------------- status


async def change_status(
    session: AsyncSession,
    order_id: str,
    *,
    from_status: int,
    to_status: int,
    source: str,
    correlation_id: str | None,
    reason: str | None = None,
) -> StatusChange:
    """Move the order from ``from_status`` to ``to_status`` (compare-and-set), idempotently.

    * applied: ``StatusChange(applied=True)``; the trigger wrote one history row.
    * already at ``to_status`` (a retry): ``applied=False`` with the time of that change.
    * unknown order: :class:`OrderNotFoundError`.
    * transition not allowed by the contract: :class:`InvalidTransitionError`.
    * order not in ``from_status``: :class:`StaleStatusError` (an InvalidTransitionError).
    """
    refusal = transition_refusal(from_status, to_status)
    if refusal is not None:
        await _current_status(session, order_id)  # an unknown order is "not found" first
        raise InvalidTransitionError(order_id, from_status, to_status, refusal)

    try:
        changed_at = (
            await session.execute(
                update(Order)
                .where(Order.order_id == order_id, Order.status_code == from_status)
                .values(
                    status_code=to_status,
                    status_source=source,
                    status_correlation_id=correlation_id,
                    status_reason=reason,
                )
                .returning(Order.updated_at)
            )
        ).scalar_one_or_none()
    except IntegrityError as exc:
        if _constraint_name(exc) == TRANSITION_CONSTRAINT:
            raise InvalidTransitionError(
                order_id, from_status, to_status, "refused by the database's transition table"
            ) from exc
        raise
    if changed_at is not None:
        # updated_at and the history row's changed_at are both now(): the transaction's time.
        return StatusChange(order_id, from_status, to_status, changed_at, applied=True)

    current = await _current_status(session, order_id)
    if current == to_status:
        return await _already_applied(session, order_id, from_status, to_status)
    raise StaleStatusError(order_id, expected=from_status, actual=current, to_status=to_status)


async def _current_status(session: AsyncSession, order_id: str) -> int:
    current = (
        await session.execute(select(Order.status_code).where(Order.order_id == order_id))
    ).scalar_one_or_none()
    if current is None:
        raise OrderNotFoundError(order_id)
    return current


async def _already_applied(
    session: AsyncSession, order_id: str, from_status: int, to_status: int
) -> StatusChange:
    changed_at = (
        await session.execute(
            select(OrderStatusHistory.changed_at)
            .where(
                OrderStatusHistory.order_id == order_id, OrderStatusHistory.to_status == to_status
            )
            .order_by(OrderStatusHistory.history_id.desc())
            .limit(1)
        )
    ).scalar_one()
    return StatusChange(order_id, from_status, to_status, changed_at, applied=False)


def _constraint_name(exc: IntegrityError) -> str | None:
    # SQLAlchemy wraps the driver's error; asyncpg's original is the wrapper's __cause__.
    original = getattr(exc.orig, "__cause__", None)
    name = getattr(original, "constraint_name", None)
    return name if isinstance(name, str) else None


# --------------------------------------------------------------------------- reads


async def get_order(session: AsyncSession, order_id: str) -> OrderView | None:
    """The order with lines (message order) and history (oldest first), or None."""
    order = (
        await session.execute(select(Order).where(Order.order_id == order_id))
    ).scalar_one_or_none()
    if order is None:
        return None
    lines = (
        await session.execute(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_number)
        )
    ).scalars()
    history = (
        await session.execute(
            select(OrderStatusHistory)
            .where(OrderStatusHistory.order_id == order_id)
            .order_by(OrderStatusHistory.changed_at, OrderStatusHistory.history_id)
        )
    ).scalars()
    return OrderView(
        order_id=order.order_id,
        ship_from_location_id=order.ship_from_location_id,
        status_code=order.status_code,
        org_id=order.org_id,
        customer_id=order.customer_id,
        currency_code=order.currency_code,
        captured_date=order.captured_date,
        order_sub_total=order.order_sub_total,
        total_charges=order.total_charges,
        total_taxes=order.total_taxes,
        total_discounts=order.total_discounts,
        order_total=order.order_total,
        correlation_id=order.correlation_id,
        raw_message=order.raw_message,
        created_at=order.created_at,
        updated_at=order.updated_at,
        lines=tuple(
            OrderLineView(
                order_line_id=line.order_line_id,
                line_number=line.line_number,
                item_id=line.item_id,
                quantity=line.quantity,
                uom=line.uom,
                unit_price=line.unit_price,
                ship_from_location_id=line.ship_from_location_id,
            )
            for line in lines
        ),
        history=tuple(
            StatusHistoryEntry(
                history_id=entry.history_id,
                from_status=entry.from_status,
                to_status=entry.to_status,
                changed_at=entry.changed_at,
                source=entry.source,
                correlation_id=entry.correlation_id,
                reason=entry.reason,
            )
            for entry in history
        ),
    )


_SUMMARY_COLUMNS = (
    Order.order_id,
    Order.ship_from_location_id,
    Order.status_code,
    Order.currency_code,
    Order.order_total,
    Order.correlation_id,
    Order.created_at,
    Order.updated_at,
)


async def list_orders(
    session: AsyncSession,
    *,
    status: int | None = None,
    ship_from_location_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> OrderPage:
    """Orders newest first (``created_at``, then ``order_id``, both descending).

    Keyset pagination: the cursor encodes the last row's sort key, so a page costs the same at
    any depth and rows inserted meanwhile never shift later pages. Raises ``ValueError`` for a
    ``limit`` outside 1..1000 and :class:`InvalidCursorError` for a cursor not made here.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    query = select(*_SUMMARY_COLUMNS).order_by(Order.created_at.desc(), Order.order_id.desc())
    if status is not None:
        query = query.where(Order.status_code == status)
    if ship_from_location_id is not None:
        query = query.where(Order.ship_from_location_id == ship_from_location_id)
    if cursor is not None:
        created_at, order_id = decode_cursor(cursor)
        query = query.where(tuple_(Order.created_at, Order.order_id) < tuple_(created_at, order_id))
    # One row more than asked tells whether another page exists.
    rows = (await session.execute(query.limit(limit + 1))).all()
    items = tuple(OrderSummary(**row._mapping) for row in rows[:limit])
    next_cursor = (
        encode_cursor(items[-1].created_at, items[-1].order_id) if len(rows) > limit else None
    )
    return OrderPage(items=items, next_cursor=next_cursor)


def encode_cursor(created_at: datetime, order_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), order_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_text, order_id = json.loads(raw)
        created_at = datetime.fromisoformat(created_text)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursorError("invalid page cursor") from exc
    if created_at.tzinfo is None or not isinstance(order_id, str):
        raise InvalidCursorError("invalid page cursor")
    return created_at, order_id
