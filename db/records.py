"""Values the repository takes and returns (no ORM objects cross its boundary).

The views are the contract's order fields (:mod:`contracts.order`) plus what the database
knows (status, timestamps, line numbers, history). The API serves them as they are: PascalCase
names on the wire, money and quantities as fixed-point decimal strings (``"12.3400"``), and a
``StatusName`` looked up from the status code.

Import them from :mod:`db.repository`, which re-exports everything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, computed_field

from contracts.naming import WIRE_NAMES
from contracts.order import OrderFields, OrderLineFields
from contracts.order_create_v1.model import OrderCreateV1
from contracts.status import status_name


def as_utc(value: datetime | None) -> datetime | None:
    """Aware datetimes as they are; naive ones are taken to be UTC (the contract's convention)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- input


@dataclass(frozen=True, kw_only=True)
class NewOrder:
    """A validated order, ready to be stored.

    ``raw_message`` is the original message as a JSON object (unknown fields included); Decimal
    values in it are stored exactly. ``source`` is recorded in the first history row. A naive
    ``CapturedDate`` is stored as UTC.
    """

    order: OrderCreateV1
    correlation_id: str
    raw_message: dict[str, Any]
    source: str = "workflow"

    @property
    def order_id(self) -> str:
        return self.order.order_id


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


# --------------------------------------------------------------------------- views


class _View(BaseModel):
    model_config = ConfigDict(**WIRE_NAMES, frozen=True, validate_by_name=True)

    @classmethod
    def of(cls, row: object, **values: Any) -> Self:
        """The view of a database row (``values`` given for some fields), as it is stored.

        Not validated again: the contract's rules were checked when the row was written (by
        the workflow and the database's constraints), and a rule tightened later must not make
        stored orders unreadable.
        """
        fields = {name: getattr(row, name) for name in cls.model_fields if name not in values}
        view = cls.model_construct(**fields, **values)
        assert isinstance(view, cls)  # the mypy plugin types model_construct as the base class
        return view


class OrderLineView(OrderLineFields, _View):
    """A stored line; ``line_number`` is its position in the message (1-based)."""

    line_number: int


class StatusHistoryEntry(_View):
    """One status change; ``from_status`` is None for the row written when the order opened."""

    from_status: int | None
    to_status: int
    changed_at: datetime
    source: str
    correlation_id: str | None
    reason: str | None

    @computed_field(description="Name of ToStatus")  # type: ignore[prop-decorator]
    @property
    def status_name(self) -> str:
        return status_name(self.to_status)


class OrderSummary(OrderFields, _View):
    """A stored order without lines and history, as :func:`db.repository.list_orders` lists it."""

    status_code: int
    correlation_id: str
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_name(self) -> str:
        return status_name(self.status_code)


class OrderView(OrderSummary):
    """An order with its lines (message order) and its history (oldest first).

    Money and quantities are Decimals at scale 4 (``Decimal("12.3400")``), exactly as stored.
    ``raw_message`` (the original message) is for the repository's callers, not the API.
    """

    order_lines: tuple[OrderLineView, ...]
    history: tuple[StatusHistoryEntry, ...]
    raw_message: dict[str, Any] = Field(exclude=True)


class OrderPage(_View):
    """One page, newest first; pass ``next_cursor`` back to get the next (None on the last)."""

    orders: tuple[OrderSummary, ...]
    next_cursor: str | None
