"""Request and response bodies. Field names are the contract's PascalCase (``OrderID``,
``ShipFromLocationID``, ``StatusCode``, ``StatusName``, ``OrderLines``, ``History``); money and
quantities are decimal strings exactly as stored (``"12.3400"``), never floats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.status import OrderStatus
from db.records import OrderLineView, OrderPage, OrderSummary, OrderView, StatusHistoryEntry
from db.records import status_name as name_of

DecimalString = Annotated[
    str,
    Field(
        pattern=r"^-?\d+(\.\d+)?$",
        description="Decimal as stored (NUMERIC(18,4)), e.g. 12.3400",
        examples=["12.3400"],
    ),
]
REASON_MAX_LENGTH = 500


def decimal_text(value: Decimal | None) -> str | None:
    """``Decimal("12.3400")`` -> ``"12.3400"`` (fixed-point: never an exponent)."""
    return None if value is None else format(value, "f")


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True)


class OrderLineBody(_Body):
    OrderLineID: str
    LineNumber: int
    ItemID: str
    Quantity: DecimalString
    UOM: str | None
    UnitPrice: DecimalString | None
    ShipFromLocationID: str | None

    @classmethod
    def of(cls, line: OrderLineView) -> OrderLineBody:
        return cls(
            OrderLineID=line.order_line_id,
            LineNumber=line.line_number,
            ItemID=line.item_id,
            Quantity=format(line.quantity, "f"),
            UOM=line.uom,
            UnitPrice=decimal_text(line.unit_price),
            ShipFromLocationID=line.ship_from_location_id,
        )


class HistoryEntryBody(_Body):
    """One status change; ``FromStatus`` is null for the row written when the order opened."""

    FromStatus: int | None
    ToStatus: int
    StatusName: str = Field(description="Name of ToStatus")
    ChangedAt: datetime
    Source: str
    CorrelationID: str | None
    Reason: str | None

    @classmethod
    def of(cls, entry: StatusHistoryEntry) -> HistoryEntryBody:
        return cls(
            FromStatus=entry.from_status,
            ToStatus=entry.to_status,
            StatusName=name_of(entry.to_status),
            ChangedAt=entry.changed_at,
            Source=entry.source,
            CorrelationID=entry.correlation_id,
            Reason=entry.reason,
        )


class OrderSummaryBody(_Body):
    OrderID: str
    ShipFromLocationID: str
    StatusCode: int
    StatusName: str
    CurrencyCode: str | None
    OrderTotal: DecimalString | None
    CorrelationID: str
    CreatedAt: datetime
    UpdatedAt: datetime

    @classmethod
    def of(cls, order: OrderSummary) -> OrderSummaryBody:
        return cls(
            OrderID=order.order_id,
            ShipFromLocationID=order.ship_from_location_id,
            StatusCode=order.status_code,
            StatusName=order.status_name,
            CurrencyCode=order.currency_code,
            OrderTotal=decimal_text(order.order_total),
            CorrelationID=order.correlation_id,
            CreatedAt=order.created_at,
            UpdatedAt=order.updated_at,
        )


class OrderBody(_Body):
    """An order with its lines (message order) and status history (oldest first)."""

    OrderID: str
    ShipFromLocationID: str
    StatusCode: int
    StatusName: str
    OrgID: str | None
    CustomerID: str | None
    CurrencyCode: str | None
    CapturedDate: datetime | None
    OrderSubTotal: DecimalString | None
    TotalCharges: DecimalString | None
    TotalTaxes: DecimalString | None
    TotalDiscounts: DecimalString | None
    OrderTotal: DecimalString | None
    CorrelationID: str
    CreatedAt: datetime
    UpdatedAt: datetime
    OrderLines: list[OrderLineBody]
    History: list[HistoryEntryBody]

    @classmethod
    def of(cls, order: OrderView) -> OrderBody:
        return cls(
            OrderID=order.order_id,
            ShipFromLocationID=order.ship_from_location_id,
            StatusCode=order.status_code,
            StatusName=order.status_name,
            OrgID=order.org_id,
            CustomerID=order.customer_id,
            CurrencyCode=order.currency_code,
            CapturedDate=order.captured_date,
            OrderSubTotal=decimal_text(order.order_sub_total),
            TotalCharges=decimal_text(order.total_charges),
            TotalTaxes=decimal_text(order.total_taxes),
            TotalDiscounts=decimal_text(order.total_discounts),
            OrderTotal=decimal_text(order.order_total),
            CorrelationID=order.correlation_id,
            CreatedAt=order.created_at,
            UpdatedAt=order.updated_at,
            OrderLines=[OrderLineBody.of(line) for line in order.lines],
            History=[HistoryEntryBody.of(entry) for entry in order.history],
        )


class OrderPageBody(_Body):
    """Newest first; pass ``NextCursor`` as ``cursor`` for the next page (null on the last)."""

    Orders: list[OrderSummaryBody]
    NextCursor: str | None

    @classmethod
    def of(cls, page: OrderPage) -> OrderPageBody:
        return cls(
            Orders=[OrderSummaryBody.of(order) for order in page.items],
            NextCursor=page.next_cursor,
        )


class StatusChangeBody(BaseModel):
    """``POST /orders/{order_id}/status``: the status to move to and why."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ToStatus": 2000}]})

    ToStatus: OrderStatus
    Reason: Annotated[str, Field(max_length=REASON_MAX_LENGTH)] | None = None


class StatusChangedBody(_Body):
    """The order's new status, as the workflow applied it."""

    OrderID: str
    FromStatus: int
    StatusCode: int
    StatusName: str
    ChangedAt: datetime
    CorrelationID: str


class ErrorBody(_Body):
    """Error responses keep FastAPI's ``detail`` field (422 has its own, standard shape)."""

    detail: str


class LiveBody(_Body):
    Status: Literal["live"] = "live"


class CheckBody(_Body):
    Ok: bool
    Error: str | None = None


class ReadyBody(_Body):
    """``Failing`` names the parts that could not be reached (empty when ready)."""

    Status: Literal["ready", "unavailable"]
    Failing: list[str]
    Checks: dict[str, CheckBody]
