"""The order read model: ``orders``, ``order_lines``, ``order_status_history`` (SQLAlchemy 2).

The migrations in ``migrations/`` create exactly this schema (a test runs Alembic's autogenerate
against a migrated database and expects no difference). Triggers and functions live only in
the migrations (``0002_status_rules``), because autogenerate does not see them.

Money and quantity columns accept exactly the values of ``NUMERIC(18,4)`` and refuse any other
(never round); a trigger stores them at scale 4, so ``12.34`` reads back as ``12.3400``. Why
they are ``NUMERIC`` with CHECKs: ``docs/decisions/0003-numeric-columns-with-checks.md``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime

from contracts.limits import (
    CORRELATION_ID_MAX_LENGTH,
    ITEM_ID_MAX_LENGTH,
    LINE_ID_MAX_LENGTH,
    LOCATION_ID_MAX_LENGTH,
    MAX_FRACTIONAL_DIGITS,
    MAX_INTEGER_DIGITS,
    ORDER_ID_MAX_LENGTH,
    ORDER_ID_PATTERN,
    PARTY_ID_MAX_LENGTH,
    REASON_MAX_LENGTH,
    STATUS_SOURCE_MAX_LENGTH,
    UOM_MAX_LENGTH,
)
from contracts.status import INITIAL_STATUS
from db.status_sql import status_check_sql

# Every constraint and index gets a predictable name, so migrations can refer to it and error
# messages say which rule was broken ("ck_orders_quantity_positive").
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# NUMERIC(18,4): values below 10^14 with at most 4 fractional digits.
AMOUNT_LIMIT = 10**MAX_INTEGER_DIGITS


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        Decimal: Numeric(asdecimal=True),
        dict[str, Any]: JSONB,
        str: Text,
    }


def _id_check(column: str, max_length: int) -> CheckConstraint:
    """Non-blank text of at most ``max_length`` characters (NULL is the column's business)."""
    return CheckConstraint(
        f"char_length({column}) BETWEEN 1 AND {max_length} AND {column} ~ '\\S'",
        name=f"{column}_length",
    )


def _max_length_check(column: str, max_length: int) -> CheckConstraint:
    return CheckConstraint(f"char_length({column}) <= {max_length}", name=f"{column}_length")


def _amount_checks(column: str, *, positive: bool = False) -> list[CheckConstraint]:
    """The value set of NUMERIC(18,4) (no fifth decimal, under 10^14) plus the sign rule."""
    sign = (
        CheckConstraint(f"{column} > 0", name=f"{column}_positive")
        if positive
        else CheckConstraint(f"{column} >= 0", name=f"{column}_non_negative")
    )
    fits = CheckConstraint(
        f"{column} = trunc({column}, {MAX_FRACTIONAL_DIGITS}) AND abs({column}) < {AMOUNT_LIMIT}",
        name=f"{column}_numeric_18_4",
    )
    return [sign, fits]


ORDER_AMOUNT_COLUMNS = (
    "order_sub_total",
    "total_charges",
    "total_taxes",
    "total_discounts",
    "order_total",
)


class Order(Base):
    """One order: its header fields, current status and the raw message it came from.

    Columns of the order's fields are named after them (:data:`contracts.order.ORDER_COLUMNS`).

    ``status_source``, ``status_correlation_id`` and ``status_reason`` describe the *last*
    status change. Whoever changes ``status_code`` sets them in the same ``UPDATE``; the history
    trigger copies them into ``order_status_history`` (see docs/operations/database.md).
    """

    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(primary_key=True)
    ship_from_location_id: Mapped[str]
    status_code: Mapped[int] = mapped_column(Integer, server_default=text(str(int(INITIAL_STATUS))))
    org_id: Mapped[str | None]
    customer_id: Mapped[str | None]
    currency_code: Mapped[str | None]
    captured_date: Mapped[datetime | None]
    order_sub_total: Mapped[Decimal | None]
    total_charges: Mapped[Decimal | None]
    total_taxes: Mapped[Decimal | None]
    total_discounts: Mapped[Decimal | None]
    order_total: Mapped[Decimal | None]
    correlation_id: Mapped[str]
    raw_message: Mapped[dict[str, Any]]
    status_source: Mapped[str]
    status_correlation_id: Mapped[str | None]
    status_reason: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    # Loaded only when asked for (selectinload); anything else raises instead of querying.
    order_lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.line_number", lazy="raise"
    )
    history: Mapped[list[OrderStatusHistory]] = relationship(
        order_by="[OrderStatusHistory.changed_at, OrderStatusHistory.history_id]",
        lazy="raise",
        viewonly=True,
    )

    __table_args__ = (
        CheckConstraint(
            f"order_id ~ '{ORDER_ID_PATTERN}' AND char_length(order_id) <= {ORDER_ID_MAX_LENGTH}",
            name="order_id_format",
        ),
        _id_check("ship_from_location_id", LOCATION_ID_MAX_LENGTH),
        CheckConstraint(status_check_sql("status_code"), name="status_code_known"),
        _max_length_check("org_id", PARTY_ID_MAX_LENGTH),
        _max_length_check("customer_id", PARTY_ID_MAX_LENGTH),
        CheckConstraint("currency_code ~ '^[A-Z]{3}$'", name="currency_code_iso4217"),
        *[check for column in ORDER_AMOUNT_COLUMNS for check in _amount_checks(column)],
        _id_check("correlation_id", CORRELATION_ID_MAX_LENGTH),
        CheckConstraint("jsonb_typeof(raw_message) = 'object'", name="raw_message_object"),
        _id_check("status_source", STATUS_SOURCE_MAX_LENGTH),
        _max_length_check("status_correlation_id", CORRELATION_ID_MAX_LENGTH),
        _max_length_check("status_reason", REASON_MAX_LENGTH),
        # Listing newest first: by status, by location (+ status), and unfiltered. The trailing
        # order_id makes the sort order total, which keyset pagination needs.
        Index(
            "ix_orders_status_code_created_at",
            "status_code",
            text("created_at DESC"),
            text("order_id DESC"),
        ),
        Index(
            "ix_orders_ship_from_location_id_status_code",
            "ship_from_location_id",
            "status_code",
            text("created_at DESC"),
            text("order_id DESC"),
        ),
        Index("ix_orders_created_at", text("created_at DESC"), text("order_id DESC")),
    )


class OrderLine(Base):
    """One line of an order; ``line_number`` keeps the order of the message (1-based).

    Columns of a line's fields are named after them (:data:`contracts.order.LINE_COLUMNS`).
    """

    __tablename__ = "order_lines"

    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True
    )
    order_line_id: Mapped[str] = mapped_column(primary_key=True)
    line_number: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str]
    quantity: Mapped[Decimal]
    uom: Mapped[str | None]
    unit_price: Mapped[Decimal | None]
    ship_from_location_id: Mapped[str | None]

    order: Mapped[Order] = relationship(back_populates="order_lines", lazy="raise")

    __table_args__ = (
        _id_check("order_line_id", LINE_ID_MAX_LENGTH),
        CheckConstraint("line_number >= 1", name="line_number_positive"),
        _id_check("item_id", ITEM_ID_MAX_LENGTH),
        *_amount_checks("quantity", positive=True),
        CheckConstraint(f"char_length(uom) BETWEEN 1 AND {UOM_MAX_LENGTH}", name="uom_length"),
        *_amount_checks("unit_price"),
        _id_check("ship_from_location_id", LOCATION_ID_MAX_LENGTH),
    )


class OrderStatusHistory(Base):
    """Append-only audit trail: one row per order insert and per status change.

    Written only by triggers on ``orders``; updates, deletes and truncation are refused by
    triggers on this table. ``from_status`` is NULL for the row written when the order is created.
    """

    __tablename__ = "order_status_history"

    history_id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    # RESTRICT: the audit trail outlives nothing; an order with history cannot be deleted.
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id", ondelete="RESTRICT"))
    from_status: Mapped[int | None] = mapped_column(Integer)
    to_status: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    source: Mapped[str]
    correlation_id: Mapped[str | None]
    reason: Mapped[str | None]

    __table_args__ = (
        CheckConstraint(status_check_sql("from_status"), name="from_status_known"),
        CheckConstraint(status_check_sql("to_status"), name="to_status_known"),
        _id_check("source", STATUS_SOURCE_MAX_LENGTH),
        _max_length_check("correlation_id", CORRELATION_ID_MAX_LENGTH),
        _max_length_check("reason", REASON_MAX_LENGTH),
        Index("ix_order_status_history_order_id_changed_at", "order_id", "changed_at"),
    )
