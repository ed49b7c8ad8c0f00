"""Texts the Temporal Web UI shows for an order: the static summary set by the starter and the
current details the workflow keeps up to date. Pure functions, safe in workflow code."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.status import STATUS_NAMES

_NAMES_BY_CODE = {int(code): name for code, name in STATUS_NAMES.items()}


def order_summary(
    order_id: str, location: str | None, line_count: int | None, total: str | None
) -> str:
    """``Order A-1 · location DC-07 · 3 lines · total 129.9000`` (unknown parts say so)."""
    lines = (
        "? lines" if line_count is None else f"{line_count} line{'s' if line_count != 1 else ''}"
    )
    return f"Order {order_id} · location {location or '?'} · {lines} · total {total or '?'}"


def summary_from_payload(order_id: str, payload: Mapping[str, Any] | None) -> str:
    """The static summary, read leniently from the message (a JSON object, or None when it is
    not one) before it is validated."""
    if payload is None:
        return order_summary(order_id, None, None, None)
    location = payload.get("ShipFromLocationID")
    lines = payload.get("OrderLines")
    total = payload.get("OrderTotal")
    return order_summary(
        order_id,
        location if isinstance(location, str) else None,
        len(lines) if isinstance(lines, list) else None,
        None if total is None or isinstance(total, bool | dict | list) else str(total),
    )


def status_details(status: int, since: datetime, *, return_window_ends: datetime | None) -> str:
    """Current details: ``Status 2000 Allocated since 2025-01-31T10:00:00Z``."""
    name = _NAMES_BY_CODE.get(status, "?")
    text = f"Status {status} {name} since {since.isoformat(timespec='seconds')}"
    if return_window_ends is not None:
        text += f"; return window ends {return_window_ends.isoformat(timespec='seconds')}"
    return text
