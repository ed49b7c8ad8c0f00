"""Unique IDs, so tests that share the session's database, broker and Temporal never collide."""

from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    """``{prefix}-`` and 10 random hex digits (topic suffixes, consumer groups, task queues)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_order_id(prefix: str = "T") -> str:
    """An ``OrderID`` (the contract's characters, well under its 64) that no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
