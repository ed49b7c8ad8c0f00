"""One correlation-ID rule for every way an ID comes in: the API's ``X-Correlation-ID`` header,
the bridge's ``correlation-id`` header and the message's own fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from api.middleware import incoming_correlation_id
from bridges.handler import RecordCoordinates, StartOrder, decide
from contracts.correlation import accepted_correlation_id, new_correlation_id
from contracts.limits import CORRELATION_ID_MAX_LENGTH

CASES = [
    ("abc-123", "abc-123"),
    ("  padded  ", "padded"),
    ("", None),
    ("   ", None),
    ("has space", None),
    ("x" * CORRELATION_ID_MAX_LENGTH, "x" * CORRELATION_ID_MAX_LENGTH),
    ("x" * (CORRELATION_ID_MAX_LENGTH + 1), None),
    ("caf\u00e9", None),
    ("nul\x00inside", None),
    ("tab\tinside", None),
    ("~!{}[]<>", "~!{}[]<>"),
]


@pytest.mark.parametrize(("candidate", "expected"), CASES)
def test_the_rule(candidate: str, expected: str | None) -> None:
    assert accepted_correlation_id(candidate) == expected


@pytest.mark.parametrize(("candidate", "expected"), CASES)
def test_the_api_header_follows_the_rule(candidate: str, expected: str | None) -> None:
    raw = candidate.encode("latin-1", "replace")
    assert incoming_correlation_id(raw) == accepted_correlation_id(raw.decode("latin-1"))
    if candidate.isascii():
        assert incoming_correlation_id(raw) == expected


@pytest.mark.parametrize(("candidate", "expected"), CASES)
def test_the_bridge_header_follows_the_rule(candidate: str, expected: str | None) -> None:
    decision = decide(
        key=None,
        value=json.dumps({"OrderID": "A-1"}).encode(),
        headers=[("correlation-id", candidate.encode())],
        coordinates=RecordCoordinates(topic="order.create.v1", partition=0, offset=0),
        max_message_bytes=1024,
        received_at=datetime(2025, 1, 1, tzinfo=UTC),
        new_id=lambda: "generated",
    )
    assert isinstance(decision, StartOrder)
    assert decision.input.correlation_id == (expected or "generated")


def test_new_ids_pass_the_rule() -> None:
    first, second = new_correlation_id(), new_correlation_id()
    assert first != second
    assert accepted_correlation_id(first) == first
