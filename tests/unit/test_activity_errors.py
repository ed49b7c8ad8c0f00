"""What a database error may say once it leaves an activity (db.errors.redacted_message)."""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from db.errors import WITHHELD, redacted_message


class DriverError(Exception):
    """Like asyncpg's errors through SQLAlchemy's adapter: a SQLSTATE, a DETAIL in the text."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate

    def __str__(self) -> str:
        return f"{self.args[0]}\nDETAIL:  Failing row contains (CUST-SECRET)"


STATEMENT = "INSERT INTO orders (order_id, customer_id) VALUES ($1::VARCHAR, $2::VARCHAR)"
PARAMS = ("ORD-1", "CUST-SECRET")


def test_a_constraint_error_keeps_its_primary_message_but_no_detail_or_values() -> None:
    error = IntegrityError(STATEMENT, PARAMS, DriverError('violates check "ck_total"', "23514"))
    message = redacted_message(error)
    assert message.startswith(
        '(DriverError, SQLSTATE 23514) violates check "ck_total" [SQL: INSERT'
    )
    assert "CUST-SECRET" not in message
    assert "DETAIL" not in message


def test_a_data_error_withholds_the_primary_message_that_may_quote_the_value() -> None:
    server = DataError(
        STATEMENT,
        PARAMS,
        DriverError('invalid input syntax for type numeric: "CUST-SECRET"', "22P02"),
    )
    client = DataError(STATEMENT, PARAMS, DriverError("invalid input for $2: 'CUST-SECRET'", None))
    for error in (server, client):
        message = redacted_message(error)
        assert WITHHELD in message
        assert "CUST-SECRET" not in message


def test_a_connection_error_says_what_happened() -> None:
    error = OperationalError("SELECT 1", (), DriverError("connection was closed", "08006"))
    assert "connection was closed" in redacted_message(error)
    assert "SQLSTATE 08006" in redacted_message(error)
