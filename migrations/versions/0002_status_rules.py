"""Status rules and bookkeeping as triggers: transition table, history, updated_at, scale 4.

Revision ID: 0002_status_rules
Revises: 0001_order_tables
Create Date: 2025-01-01

A frozen snapshot: TRANSITION_FUNCTION_SQL is a literal copy of ``db.status_sql`` output for the
contract's table at the time of writing (tests/unit/test_db_migration_snapshot.py checks the
newest copy against the contract). Change the contract -> write a new revision that replaces
the function; never edit this one.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_status_rules"
down_revision: str | Sequence[str] | None = "0001_order_tables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRANSITION_FUNCTION_SQL = """\
CREATE OR REPLACE FUNCTION orderflow_status_transition_allowed(
    from_status integer, to_status integer
)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (from_status, to_status) IN (VALUES
        (1000, 1500),
        (1000, 1600),
        (1000, 2000),
        (1000, 9000),
        (1500, 2000),
        (1500, 9000),
        (1600, 2000),
        (1600, 9000),
        (2000, 1500),
        (2000, 3000),
        (2000, 9000),
        (3000, 3500),
        (3000, 3600),
        (3000, 7000),
        (3000, 9000),
        (3500, 3600),
        (3500, 7000),
        (3600, 3700),
        (3600, 7000),
        (3700, 7000),
        (7000, 7500),
        (7000, 8000),
        (7500, 8000),
        (8000, 8500)
    )
$$"""

# Accepted amounts are stored at scale 4 (1.5 -> 1.5000), like a NUMERIC(18,4) column would.
# A value with a fifth decimal is left as it is, so the column's CHECK refuses it instead of
# PostgreSQL rounding it silently.
SCALE_4_FUNCTION_SQL = """\
CREATE FUNCTION orderflow_scale_4(amount numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN amount = trunc(amount, 4) THEN round(amount, 4) ELSE amount END
$$"""

ORDERS_BEFORE_WRITE_SQL = """\
CREATE FUNCTION orders_before_write() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.order_sub_total := orderflow_scale_4(NEW.order_sub_total);
    NEW.total_charges := orderflow_scale_4(NEW.total_charges);
    NEW.total_taxes := orderflow_scale_4(NEW.total_taxes);
    NEW.total_discounts := orderflow_scale_4(NEW.total_discounts);
    NEW.order_total := orderflow_scale_4(NEW.order_total);
    IF TG_OP = 'UPDATE' THEN
        NEW.created_at := OLD.created_at;
        NEW.updated_at := now();
        IF NEW.status_code IS DISTINCT FROM OLD.status_code
           AND NOT orderflow_status_transition_allowed(OLD.status_code, NEW.status_code) THEN
            RAISE EXCEPTION 'order %: status transition % -> % is not allowed',
                    OLD.order_id, OLD.status_code, NEW.status_code
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ck_orders_status_transition',
                      TABLE = 'orders',
                      COLUMN = 'status_code';
        END IF;
    END IF;
    RETURN NEW;
END
$$"""

# One history row per insert and per change of status_code, in the same transaction. Who made
# the change travels in the row itself (status_source, status_correlation_id, status_reason).
ORDERS_RECORD_STATUS_SQL = """\
CREATE FUNCTION orders_record_status() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO order_status_history
        (order_id, from_status, to_status, source, correlation_id, reason)
    VALUES (
        NEW.order_id,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.status_code END,
        NEW.status_code,
        NEW.status_source,
        NEW.status_correlation_id,
        NEW.status_reason
    );
    RETURN NULL;
END
$$"""

ORDER_LINES_BEFORE_WRITE_SQL = """\
CREATE FUNCTION order_lines_before_write() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.quantity := orderflow_scale_4(NEW.quantity);
    NEW.unit_price := orderflow_scale_4(NEW.unit_price);
    RETURN NEW;
END
$$"""

HISTORY_APPEND_ONLY_SQL = """\
CREATE FUNCTION order_status_history_refuse_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'order_status_history is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation', TABLE = 'order_status_history';
END
$$"""

TRIGGERS_SQL = (
    "CREATE TRIGGER orders_before_write BEFORE INSERT OR UPDATE ON orders "
    "FOR EACH ROW EXECUTE FUNCTION orders_before_write()",
    "CREATE TRIGGER orders_history_on_insert AFTER INSERT ON orders "
    "FOR EACH ROW EXECUTE FUNCTION orders_record_status()",
    "CREATE TRIGGER orders_history_on_status_change AFTER UPDATE OF status_code ON orders "
    "FOR EACH ROW WHEN (OLD.status_code IS DISTINCT FROM NEW.status_code) "
    "EXECUTE FUNCTION orders_record_status()",
    "CREATE TRIGGER order_lines_before_write BEFORE INSERT OR UPDATE ON order_lines "
    "FOR EACH ROW EXECUTE FUNCTION order_lines_before_write()",
    "CREATE TRIGGER order_status_history_append_only BEFORE UPDATE OR DELETE "
    "ON order_status_history FOR EACH ROW EXECUTE FUNCTION order_status_history_refuse_change()",
    "CREATE TRIGGER order_status_history_no_truncate BEFORE TRUNCATE "
    "ON order_status_history FOR EACH STATEMENT "
    "EXECUTE FUNCTION order_status_history_refuse_change()",
)

TRIGGERS = (
    ("orders_before_write", "orders"),
    ("orders_history_on_insert", "orders"),
    ("orders_history_on_status_change", "orders"),
    ("order_lines_before_write", "order_lines"),
    ("order_status_history_append_only", "order_status_history"),
    ("order_status_history_no_truncate", "order_status_history"),
)
FUNCTIONS = (
    "order_status_history_refuse_change()",
    "order_lines_before_write()",
    "orders_record_status()",
    "orders_before_write()",
    "orderflow_scale_4(numeric)",
    "orderflow_status_transition_allowed(integer, integer)",
)


def upgrade() -> None:
    for statement in (
        TRANSITION_FUNCTION_SQL,
        SCALE_4_FUNCTION_SQL,
        ORDERS_BEFORE_WRITE_SQL,
        ORDERS_RECORD_STATUS_SQL,
        ORDER_LINES_BEFORE_WRITE_SQL,
        HISTORY_APPEND_ONLY_SQL,
        *TRIGGERS_SQL,
    ):
        op.execute(statement)


def downgrade() -> None:
    for trigger, table in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
