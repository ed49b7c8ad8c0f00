"""Errors the repository raises for business outcomes (re-exported by :mod:`db.repository`).

Messages name orders, fields and status codes only, never payload values, so they are safe to
put in logs, DLQ headers and API responses.
"""

from __future__ import annotations


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
