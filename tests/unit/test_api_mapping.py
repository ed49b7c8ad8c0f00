"""How the API turns workflow refusals and client headers into HTTP (no services needed)."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api.middleware import incoming_correlation_id
from api.status_change import update_failure
from contracts.decimals import decimal_text
from contracts.errors import INVALID_STATUS_TRANSITION, ORDER_NOT_FOUND, RETRY_BUDGET_EXHAUSTED


@pytest.mark.parametrize(
    ("error_type", "status", "detail"),
    [
        (INVALID_STATUS_TRANSITION, 409, "transition refused"),
        (ORDER_NOT_FOUND, 404, "order O-1 not found"),
        (RETRY_BUDGET_EXHAUSTED, 503, "transition refused"),
        ("SomethingElse", 500, "transition refused"),
    ],
)
def test_update_failures_by_type(error_type: str, status: int, detail: str) -> None:
    failure = WorkflowUpdateFailedError(ApplicationError("transition refused", type=error_type))
    answer = update_failure("O-1", failure)
    assert (answer.status_code, answer.detail) == (status, detail)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        (b"abc-123", "abc-123"),
        (b"  padded  ", "padded"),
        (b"", None),
        (b"has space", None),
        (b"x" * 128, "x" * 128),
        (b"x" * 129, None),
        ("caf\u00e9".encode("latin-1"), None),
    ],
)
def test_incoming_correlation_ids(raw: bytes | None, expected: str | None) -> None:
    assert incoming_correlation_id(raw) == expected


def test_decimals_are_fixed_point_text() -> None:
    from decimal import Decimal

    assert decimal_text(Decimal("12.3400")) == "12.3400"
    assert decimal_text(Decimal("0E-4")) == "0.0000"
    assert decimal_text(Decimal("99999999999999.9999")) == "99999999999999.9999"
