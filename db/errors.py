"""Errors the repository raises for business outcomes (re-exported by :mod:`db.repository`).

Messages name orders, fields and status codes only, never payload values, so they are safe to
put in logs, DLQ headers and API responses.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, StatementError


class OrderConflictError(Exception):
    """The order exists with different content; the stored order was left as it was."""

    def __init__(self, order_id: str, fields: tuple[str, ...]) -> None:
        super().__init__(
            f"order {order_id} already exists with different content (differs in: "
            f"{', '.join(fields)})"
        )
        self.order_id = order_id
        self.fields = fields


class InvalidTransitionError(Exception):
    """The status change is not allowed (by the contract's table, or from the order's status)."""

    def __init__(self, order_id: str, from_status: int, to_status: int, reason: str) -> None:
        super().__init__(f"order {order_id}: {reason}")
        self.order_id = order_id
        self.from_status = from_status
        self.to_status = to_status
        self.reason = reason


class StaleStatusError(InvalidTransitionError):
    """The order is not in the status the caller expected (compare-and-set lost)."""

    def __init__(self, order_id: str, expected: int, actual: int, to_status: int) -> None:
        super().__init__(
            order_id,
            actual,
            to_status,
            f"order is in status {actual}, not {expected} as expected for a change to {to_status}",
        )
        self.expected = expected


class OrderNotFoundError(Exception):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} not found")
        self.order_id = order_id


class InvalidCursorError(ValueError):
    """A page cursor that this repository did not produce (or that was altered)."""


# Enough of the statement to say which one failed (its placeholders carry no values).
_STATEMENT_CHARS = 240
WITHHELD = "(message withheld: it may quote a value)"


def redacted_message(error: StatementError) -> str:
    """What an operator may see of a statement error: the driver's error class, the SQLSTATE,
    PostgreSQL's primary message (withheld for data exceptions, whose primary message can quote
    the offending value) and the statement with its placeholders — never the driver's DETAIL
    (``Failing row contains (…)``) nor parameter values."""
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    primary = str(orig.args[0]).splitlines()[0] if orig is not None and orig.args else ""
    if isinstance(error, DataError) or (sqlstate or "").startswith("22"):
        primary = WITHHELD
    statement = " ".join(str(error.statement or "").split())
    if len(statement) > _STATEMENT_CHARS:
        statement = statement[:_STATEMENT_CHARS] + "…"
    driver = type(orig).__name__ if orig is not None else "no driver error"
    return f"({driver}, SQLSTATE {sqlstate or '-'}) {primary} [SQL: {statement}]"
