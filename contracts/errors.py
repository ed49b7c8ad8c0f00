"""Validation error codes and the ``{Code, Field, Message}`` issue, plus business-error types.

Validation problems are data, not strings to parse: each has a stable code from
:class:`ErrorCode`, the JSON path of the field (``OrderLines[1].Quantity``) and a human message.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ErrorCode(StrEnum):
    MISSING_ORDER_ID = "ERR_MISSING_ORDER_ID"
    INVALID_ORDER_ID = "ERR_INVALID_ORDER_ID"
    ORDER_ID_TOO_LONG = "ERR_ORDER_ID_TOO_LONG"
    MISSING_SHIP_FROM_LOCATION = "ERR_MISSING_SHIP_FROM_LOCATION"
    INCONSISTENT_SHIP_FROM_LOCATION = "ERR_INCONSISTENT_SHIP_FROM_LOCATION"
    NO_ORDER_LINES = "ERR_NO_ORDER_LINES"
    TOO_MANY_ORDER_LINES = "ERR_TOO_MANY_ORDER_LINES"
    DUPLICATE_ORDER_LINE_ID = "ERR_DUPLICATE_ORDER_LINE_ID"
    MISSING_FIELD = "ERR_MISSING_FIELD"
    INVALID_TYPE = "ERR_INVALID_TYPE"
    INVALID_VALUE = "ERR_INVALID_VALUE"
    VALUE_TOO_LONG = "ERR_VALUE_TOO_LONG"
    NON_POSITIVE_QUANTITY = "ERR_NON_POSITIVE_QUANTITY"
    NEGATIVE_AMOUNT = "ERR_NEGATIVE_AMOUNT"
    TOO_MANY_DECIMALS = "ERR_TOO_MANY_DECIMALS"
    TOO_MANY_INTEGER_DIGITS = "ERR_TOO_MANY_INTEGER_DIGITS"
    INVALID_DECIMAL = "ERR_INVALID_DECIMAL"
    INVALID_CURRENCY = "ERR_INVALID_CURRENCY"
    INVALID_DATE = "ERR_INVALID_DATE"
    UNSUPPORTED_SCHEMA_VERSION = "ERR_UNSUPPORTED_SCHEMA_VERSION"
    SUBTOTAL_MISMATCH = "ERR_SUBTOTAL_MISMATCH"
    TOTAL_MISMATCH = "ERR_TOTAL_MISMATCH"
    NOT_AN_OBJECT = "ERR_NOT_AN_OBJECT"
    MALFORMED_JSON = "ERR_MALFORMED_JSON"
    NUL_CHARACTER = "ERR_NUL_CHARACTER"


class ValidationIssue(BaseModel):
    """One problem with an order: ``{Code, Field, Message}`` as published on order.validation.v1."""

    model_config = ConfigDict(frozen=True)

    Code: ErrorCode
    Field: str
    Message: str


# ApplicationError ``type`` strings that callers (workflow retry policies, the bridge) check.
ORDER_VALIDATION_FAILED = "OrderValidationFailed"
ORDER_CONFLICT = "OrderConflict"
INVALID_STATUS_TRANSITION = "InvalidStatusTransition"
ORDER_NOT_FOUND = "OrderNotFound"
RETRY_BUDGET_EXHAUSTED = "RetryBudgetExhausted"

NON_RETRYABLE_ERROR_TYPES: tuple[str, ...] = (
    ORDER_VALIDATION_FAILED,
    ORDER_CONFLICT,
    INVALID_STATUS_TRANSITION,
    ORDER_NOT_FOUND,
)
