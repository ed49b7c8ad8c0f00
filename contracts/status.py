"""Manhattan Active Omni order fulfillment statuses and the transitions allowed between them.

The same table is enforced by the workflow's update validator, the repository and a database
trigger (the migration renders its SQL from :data:`ALLOWED_TRANSITIONS`). A status's name is
looked up in one place, :func:`status_name`.
"""

from __future__ import annotations

from enum import IntEnum


class OrderStatus(IntEnum):
    OPEN = 1000
    BACK_ORDERED = 1500
    AWAITING_PROCUREMENT = 1600
    ALLOCATED = 2000
    RELEASED = 3000
    IN_PROCESS = 3500
    PICKED = 3600
    PACKED = 3700
    FULFILLED = 7000
    DELIVERED = 7500
    PENDING_RETURN = 8000
    RETURNED = 8500
    CANCELED = 9000

    @property
    def display_name(self) -> str:
        return status_name(self)

    @property
    def is_terminal(self) -> bool:
        return not ALLOWED_TRANSITIONS[self]


STATUS_NAMES: dict[OrderStatus, str] = {
    OrderStatus.OPEN: "Open",
    OrderStatus.BACK_ORDERED: "Back Ordered",
    OrderStatus.AWAITING_PROCUREMENT: "Awaiting Procurement",
    OrderStatus.ALLOCATED: "Allocated",
    OrderStatus.RELEASED: "Released",
    OrderStatus.IN_PROCESS: "In Process",
    OrderStatus.PICKED: "Picked",
    OrderStatus.PACKED: "Packed",
    OrderStatus.FULFILLED: "Fulfilled",
    OrderStatus.DELIVERED: "Delivered",
    OrderStatus.PENDING_RETURN: "Pending Return",
    OrderStatus.RETURNED: "Returned",
    OrderStatus.CANCELED: "Canceled",
}

_S = OrderStatus
ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.OPEN: frozenset({_S.BACK_ORDERED, _S.AWAITING_PROCUREMENT, _S.ALLOCATED, _S.CANCELED}),
    _S.BACK_ORDERED: frozenset({_S.ALLOCATED, _S.CANCELED}),
    _S.AWAITING_PROCUREMENT: frozenset({_S.ALLOCATED, _S.CANCELED}),
    _S.ALLOCATED: frozenset({_S.BACK_ORDERED, _S.RELEASED, _S.CANCELED}),
    _S.RELEASED: frozenset({_S.IN_PROCESS, _S.PICKED, _S.FULFILLED, _S.CANCELED}),
    _S.IN_PROCESS: frozenset({_S.PICKED, _S.FULFILLED}),
    _S.PICKED: frozenset({_S.PACKED, _S.FULFILLED}),
    _S.PACKED: frozenset({_S.FULFILLED}),
    _S.FULFILLED: frozenset({_S.DELIVERED, _S.PENDING_RETURN}),
    _S.DELIVERED: frozenset({_S.PENDING_RETURN}),
    _S.PENDING_RETURN: frozenset({_S.RETURNED}),
    _S.RETURNED: frozenset(),
    _S.CANCELED: frozenset(),
}

INITIAL_STATUS = OrderStatus.OPEN
UNKNOWN_STATUS_NAME = "Unknown"


def status_name(code: int) -> str:
    """The contract's name of ``code`` ("Open"), or ``"Unknown"`` for a code it doesn't list."""
    try:
        return STATUS_NAMES[OrderStatus(code)]
    except ValueError:
        return UNKNOWN_STATUS_NAME


def is_allowed(from_status: int, to_status: int) -> bool:
    """True when the contract allows ``from_status -> to_status`` (unknown codes never are)."""
    try:
        return OrderStatus(to_status) in ALLOWED_TRANSITIONS[OrderStatus(from_status)]
    except ValueError:
        return False


def transition_refusal(from_status: int, to_status: int) -> str | None:
    """Why ``from_status -> to_status`` is refused, or None when it is allowed."""
    codes = {int(s) for s in OrderStatus}
    if to_status not in codes:
        return f"unknown status code {to_status}"
    if from_status not in codes:
        return f"unknown status code {from_status}"
    if is_allowed(from_status, to_status):
        return None
    current = OrderStatus(from_status)
    if current.is_terminal:
        return f"order is in terminal status {from_status} {current.display_name}"
    allowed = ", ".join(str(int(s)) for s in sorted(ALLOWED_TRANSITIONS[current]))
    return (
        f"transition {from_status} {current.display_name} -> {to_status} "
        f"{OrderStatus(to_status).display_name} is not allowed (allowed: {allowed})"
    )
