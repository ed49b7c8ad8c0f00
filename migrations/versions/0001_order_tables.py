"""Order tables: orders, order_lines, order_status_history, with their CHECKs and indexes.

Revision ID: 0001_order_tables
Revises:
Create Date: 2025-01-01

A frozen snapshot: the status codes below are a literal copy of what ``db.status_sql`` rendered
from the contract when this revision was written. Change the contract -> write a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_order_tables"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_CODES_SQL = "1000, 1500, 1600, 2000, 3000, 3500, 3600, 3700, 7000, 7500, 8000, 8500, 9000"
AMOUNT_LIMIT = "100000000000000"  # 10^14: NUMERIC(18,4) has 14 integer digits


def _text_check(table: str, column: str, max_length: int) -> sa.CheckConstraint:
    """Non-blank text of 1..max_length characters."""
    return sa.CheckConstraint(
        f"char_length({column}) BETWEEN 1 AND {max_length} AND {column} ~ '\\S'",
        name=op.f(f"ck_{table}_{column}_length"),
    )


def _max_length(table: str, column: str, max_length: int) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        f"char_length({column}) <= {max_length}", name=op.f(f"ck_{table}_{column}_length")
    )


def _amount(table: str, column: str, *, positive: bool = False) -> list[sa.CheckConstraint]:
    sign = (
        sa.CheckConstraint(f"{column} > 0", name=op.f(f"ck_{table}_{column}_positive"))
        if positive
        else sa.CheckConstraint(f"{column} >= 0", name=op.f(f"ck_{table}_{column}_non_negative"))
    )
    fits = sa.CheckConstraint(
        f"{column} = trunc({column}, 4) AND abs({column}) < {AMOUNT_LIMIT}",
        name=op.f(f"ck_{table}_{column}_numeric_18_4"),
    )
    return [sign, fits]


def _status_check(table: str, column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        f"{column} IN ({STATUS_CODES_SQL})", name=op.f(f"ck_{table}_{column}_known")
    )


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


AMOUNTS = ("order_sub_total", "total_charges", "total_taxes", "total_discounts", "order_total")


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("ship_from_location_id", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), server_default=sa.text("1000"), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("currency_code", sa.Text(), nullable=True),
        sa.Column("captured_date", sa.DateTime(timezone=True), nullable=True),
        *[sa.Column(name, sa.Numeric(), nullable=True) for name in AMOUNTS],
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("raw_message", postgresql.JSONB(), nullable=False),
        sa.Column("status_source", sa.Text(), nullable=False),
        sa.Column("status_correlation_id", sa.Text(), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
        sa.CheckConstraint(
            "order_id ~ '^[A-Za-z0-9._:-]+$' AND char_length(order_id) <= 64",
            name=op.f("ck_orders_order_id_format"),
        ),
        _text_check("orders", "ship_from_location_id", 64),
        _status_check("orders", "status_code"),
        _max_length("orders", "org_id", 64),
        _max_length("orders", "customer_id", 64),
        sa.CheckConstraint(
            "currency_code ~ '^[A-Z]{3}$'", name=op.f("ck_orders_currency_code_iso4217")
        ),
        *[check for name in AMOUNTS for check in _amount("orders", name)],
        _text_check("orders", "correlation_id", 128),
        sa.CheckConstraint(
            "jsonb_typeof(raw_message) = 'object'", name=op.f("ck_orders_raw_message_object")
        ),
        _text_check("orders", "status_source", 64),
        _max_length("orders", "status_correlation_id", 128),
        _max_length("orders", "status_reason", 500),
    )
    op.create_index(
        "ix_orders_status_code_created_at",
        "orders",
        ["status_code", sa.text("created_at DESC"), sa.text("order_id DESC")],
    )
    op.create_index(
        "ix_orders_ship_from_location_id_status_code",
        "orders",
        [
            "ship_from_location_id",
            "status_code",
            sa.text("created_at DESC"),
            sa.text("order_id DESC"),
        ],
    )
    op.create_index(
        "ix_orders_created_at", "orders", [sa.text("created_at DESC"), sa.text("order_id DESC")]
    )

    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("order_line_id", sa.Text(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("uom", sa.Text(), nullable=True),
        sa.Column("unit_price", sa.Numeric(), nullable=True),
        sa.Column("ship_from_location_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("order_id", "order_line_id", name=op.f("pk_order_lines")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        _text_check("order_lines", "order_line_id", 64),
        sa.CheckConstraint("line_number >= 1", name=op.f("ck_order_lines_line_number_positive")),
        _text_check("order_lines", "item_id", 128),
        *_amount("order_lines", "quantity", positive=True),
        sa.CheckConstraint(
            "char_length(uom) BETWEEN 1 AND 16", name=op.f("ck_order_lines_uom_length")
        ),
        *_amount("order_lines", "unit_price"),
        _text_check("order_lines", "ship_from_location_id", 64),
    )

    op.create_table(
        "order_status_history",
        sa.Column("history_id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("from_status", sa.Integer(), nullable=True),
        sa.Column("to_status", sa.Integer(), nullable=False),
        _timestamp("changed_at"),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("history_id", name=op.f("pk_order_status_history")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
            name=op.f("fk_order_status_history_order_id_orders"),
            ondelete="RESTRICT",
        ),
        _status_check("order_status_history", "from_status"),
        _status_check("order_status_history", "to_status"),
        _text_check("order_status_history", "source", 64),
        _max_length("order_status_history", "correlation_id", 128),
        _max_length("order_status_history", "reason", 500),
    )
    op.create_index(
        "ix_order_status_history_order_id_changed_at",
        "order_status_history",
        ["order_id", "changed_at"],
    )


def downgrade() -> None:
    op.drop_table("order_status_history")
    op.drop_table("order_lines")
    op.drop_table("orders")
