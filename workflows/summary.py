"""Texts the Temporal Web UI shows for an order: the static summary set by the starter
(:func:`bridges.starter.start_order_workflow`) and the current details the workflow keeps up to
date. Pure functions, safe in workflow code."""

from __future__ import annotations

from datetime import datetime

from contracts.status import status_name


def order_summary(
    order_id: str, location: str | None, line_count: int | None, total: str | None
) -> str:
    """``Order A-1 · location DC-07 · 3 lines · total 129.9000`` (unknown parts say so)."""
    lines = (
        "? lines" if line_count is None else f"{line_count} line{'s' if line_count != 1 else ''}"
    )
    return f"Order {order_id} · location {location or '?'} · {lines} · total {total or '?'}"


def status_details(status: int, since: datetime, *, return_window_ends: datetime | None) -> str:
    """Current details: ``Status 2000 Allocated since 2025-01-31T10:00:00Z``."""
    text = f"Status {status} {status_name(status)} since {since.isoformat(timespec='seconds')}"
    if return_window_ends is not None:
        text += f"; return window ends {return_window_ends.isoformat(timespec='seconds')}"
    return text
