"""Identifier helpers: the one place that builds workflow IDs and event IDs."""

from __future__ import annotations

WORKFLOW_ID_PREFIX = "order-"


def workflow_id(order_id: str) -> str:
    """Temporal workflow ID of an order: ``order-{OrderID}``."""
    return f"{WORKFLOW_ID_PREFIX}{order_id}"


def status_event_id(order_id: str, to_status: int, sequence: int) -> str:
    """Deterministic ``{OrderID}:{ToStatus}:{sequence}`` so consumers can drop duplicates."""
    return f"{order_id}:{to_status}:{sequence}"


def validation_event_id(order_id: str, run_id: str) -> str:
    """``{OrderID}:validation:{run}``: the same for every retry within one workflow run (so
    consumers drop at-least-once duplicates), different for a re-driven order's new run (whose
    result may differ: a corrected order is valid where the first one was not)."""
    return f"{order_id}:validation:{run_id}"
