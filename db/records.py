"""Plain values the repository takes and returns (no ORM objects cross its boundary).

Import them from :mod:`db.repository`, which re-exports everything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from contracts.order_create_v1 import OrderCreateV1
from contracts.status import STATUS_NAMES, OrderStatus


def status_name(code: int) -> str:
    """The contract's name of ``code`` ("Open"), or ``"Unknown"`` for a code it doesn't list."""
    try:
        return STATUS_NAMES[OrderStatus(code)]
    except ValueError:
        return "Unknown"


def as_utc(value: datetime | None) -> datetime | None:
    """Aware datetimes as they are; naive ones are taken to be UTC (the contract's convention)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- input


@dataclass(frozen=True, kw_only=True)
class NewOrderLine:
    order_line_id: str
    item_id: str
    quantity: Decimal
    uom: str | None = None
    unit_price: Decimal | None = None
    ship_from_location_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class NewOrder:
    """A validated order, ready to be stored.

    ``raw_message`` is the original message as a JSON object (unknown fields included); Decimal
    values in it are stored exactly. ``source`` is recorded in the first history row.
    """

    order_id: str
    ship_from_location_id: str
    org_id: str | None = None
    customer_id: str | None = None
    currency_code: str | None = None
    captured_date: datetime | None = None
    order_sub_total: Decimal | None = None
    total_charges: Decimal | None = None
    total_taxes: Decimal | None = None
    total_discounts: Decimal | None = None
    order_total: Decimal | None = None
    correlation_id: str
    raw_message: dict[str, Any]
    lines: tuple[NewOrderLine, ...]
    source: str = "workflow"

    @classmethod
    def from_message(
        cls,
        msg: OrderCreateV1,
        *,
        correlation_id: str,
        raw_message: dict[str, Any],
        source: str = "workflow",
    ) -> NewOrder:
        """The order of a validated ``order.create.v1`` message (a naive CapturedDate is UTC)."""
        return cls(
            order_id=msg.OrderID,
            ship_from_location_id=msg.ShipFromLocationID,
            org_id=msg.OrgID,
            customer_id=msg.CustomerID,
            currency_code=str(msg.CurrencyCode) if msg.CurrencyCode is not None else None,
            captured_date=as_utc(msg.CapturedDate),
            order_sub_total=msg.OrderSubTotal,
            total_charges=msg.TotalCharges,
            total_taxes=msg.TotalTaxes,
            total_discounts=msg.TotalDiscounts,
            order_total=msg.OrderTotal,
            correlation_id=correlation_id,
            raw_message=raw_message,
            lines=tuple(
                NewOrderLine(
                    order_line_id=line.OrderLineID,
                    item_id=line.ItemID,
                    quantity=line.Quantity,
                    uom=line.UOM,
                    unit_price=line.UnitPrice,
                    ship_from_location_id=line.ShipFromLocationID,
                )
                for line in msg.OrderLines
            ),
            source=source,
        )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class UpsertResult:
    """``created`` is False when the order already existed with the same content."""

    created: bool
    status_code: int


@dataclass(frozen=True)
class StatusChange:
    """``applied`` is False when the order already had ``to_status`` (a retried change)."""

    order_id: str
    from_status: int
    to_status: int
    changed_at: datetime
    applied: bool

    @property
    def status_name(self) -> str:
        return status_name(self.to_status)


@dataclass(frozen=True)
class OrderLineView:
    order_line_id: str
    line_number: int
    item_id: str
    quantity: Decimal
    uom: str | None
    unit_price: Decimal | None
    ship_from_location_id: str | None


@dataclass(frozen=True)
class StatusHistoryEntry:
    """One audit row; ``from_status`` is None for the row written when the order was created."""

    history_id: int
    from_status: int | None
    to_status: int
    changed_at: datetime
    source: str
    correlation_id: str | None
    reason: str | None


@dataclass(frozen=True)
class OrderSummary:
    """An order without lines and history, as listed by :func:`db.repository.list_orders`."""

    order_id: str
    ship_from_location_id: str
    status_code: int
    currency_code: str | None
    order_total: Decimal | None
    correlation_id: str
    created_at: datetime
    updated_at: datetime

    @property
    def status_name(self) -> str:
        return status_name(self.status_code)


@dataclass(frozen=True)
class OrderView:
    """An order with its lines (message order) and its history (oldest first).

    Money and quantities are Decimals at scale 4 (``Decimal("12.3400")``), exactly as stored.
    """

    order_id: str
    ship_from_location_id: str
    status_code: int
    org_id: str | None
    customer_id: str | None
    currency_code: str | None
    captured_date: datetime | None
    order_sub_total: Decimal | None
    total_charges: Decimal | None
    total_taxes: Decimal | None
    total_discounts: Decimal | None
    order_total: Decimal | None
    correlation_id: str
    raw_message: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    lines: tuple[OrderLineView, ...]
    history: tuple[StatusHistoryEntry, ...]

    @property
    def status_name(self) -> str:
        return status_name(self.status_code)


@dataclass(frozen=True)
class OrderPage:
    """One page, newest first; pass ``next_cursor`` back to get the next (None on the last)."""

    items: tuple[OrderSummary, ...]
    next_cursor: str | None
