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

Columns are named after the contract's fields (:mod:`contracts.order`), so the field lists here
are the contract's, never spelled again.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contracts.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from contracts.order import LINE_COLUMNS, ORDER_COLUMNS
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
    OrderLineView,
    OrderPage,
    OrderSummary,
    OrderView,
    StatusChange,
    StatusHistoryEntry,
    UpsertResult,
    as_utc,
)

__all__ = [
    "InvalidCursorError",
    "InvalidTransitionError",
    "NewOrder",
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
    "upsert_order",
]

# Raised by the orders trigger when a status change is not in the contract's table.
TRANSITION_CONSTRAINT = "ck_orders_status_transition"

# What makes up an order's content: its fields and its lines' fields (each line is matched by
# its ID). Not part of it: correlation_id, raw_message, source — a re-published message with a
# new MessageID or CorrelationID is the same order.
_CONTENT_FIELDS = tuple(name for name in ORDER_COLUMNS if name != "order_id")
_LINE_CONTENT_FIELDS = tuple(name for name in LINE_COLUMNS if name != "order_line_id")


# --------------------------------------------------------------------------- upsert


async def upsert_order(session: AsyncSession, order: NewOrder) -> UpsertResult:
    """Store ``order`` with its lines and first history row, or confirm it is already stored.

    Returns ``created=True`` for the first call, ``created=False`` (and the current status) for
    a repeat with the same content. Raises :class:`OrderConflictError` when the stored order
    differs (header fields, or the set and content of lines).
    """
    values = _column_values(order.order, ORDER_COLUMNS)
    values["captured_date"] = as_utc(order.order.captured_date)
    inserted = await session.execute(
        pg_insert(Order)
        .values(
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
        lines = order.order.order_lines
        if lines:
            await session.execute(
                insert(OrderLine),
                [
                    {
                        "order_id": order.order_id,
                        "line_number": number,
                        **_column_values(line, LINE_COLUMNS),
                    }
                    for number, line in enumerate(lines, start=1)
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


def _column_values(fields: BaseModel, columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(fields, name) for name in columns}


def _differences(
    order: NewOrder, stored: Order, stored_lines: dict[str, OrderLine]
) -> tuple[str, ...]:
    """Names of the fields in which ``order`` differs from the stored one (values compared,
    so ``1.5`` equals ``1.5000`` and a timestamp equals the same instant in another zone)."""
    differences = [
        field
        for field in _CONTENT_FIELDS
        if _normalized(getattr(order.order, field)) != _normalized(getattr(stored, field))
    ]
    lines = order.order.order_lines
    if {line.order_line_id for line in lines} != stored_lines.keys():
        differences.append("OrderLines")
    else:
        for position, line in enumerate(lines):
            have = stored_lines[line.order_line_id]
            if have.line_number != position + 1:
                differences.append(f"OrderLines[{position}]")
            differences.extend(
                f"OrderLines[{position}].{field}"
                for field in _LINE_CONTENT_FIELDS
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
        await session.execute(
            select(Order)
            .where(Order.order_id == order_id)
            .options(selectinload(Order.order_lines), selectinload(Order.history))
        )
    ).scalar_one_or_none()
    if order is None:
        return None
    return OrderView.of(
        order,
        order_lines=tuple(OrderLineView.of(line) for line in order.order_lines),
        history=tuple(StatusHistoryEntry.of(entry) for entry in order.history),
    )


# A list shows the summary's columns only (not the raw message, lines or history).
_SUMMARY_COLUMNS = tuple(getattr(Order, name) for name in OrderSummary.model_fields)


async def list_orders(
    session: AsyncSession,
    *,
    status: int | None = None,
    ship_from_location_id: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> OrderPage:
    """Orders newest first (``created_at``, then ``order_id``, both descending).

    Keyset pagination: the cursor encodes the last row's sort key, so a page costs the same at
    any depth and rows inserted meanwhile never shift later pages (see
    ``docs/decisions/0004-keyset-pagination.md``). Raises ``ValueError`` for a ``limit``
    outside 1..MAX_PAGE_SIZE and :class:`InvalidCursorError` for a cursor not made here.
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
    orders = tuple(OrderSummary.of(row) for row in rows[:limit])
    next_cursor = (
        encode_cursor(orders[-1].created_at, orders[-1].order_id) if len(rows) > limit else None
    )
    return OrderPage(orders=orders, next_cursor=next_cursor)


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
