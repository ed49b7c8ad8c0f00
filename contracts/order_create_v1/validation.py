"""Full validation of an ``order.create.v1`` message: the order, or *every* problem with it as a
:class:`~contracts.errors.ValidationIssue` (``{Code, Field, Message}``), never just the first.

:func:`parse_order` is the one parse an activity makes of the raw message text: JSON once,
then the model and the rules between fields. Messages never echo payload values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from contracts.errors import ErrorCode, ValidationIssue
from contracts.order_create_v1.envelope import MessageDecodeError, loads, order_id_issue
from contracts.order_create_v1.model import OrderCreateV1


@dataclass(frozen=True)
class OrderValidation:
    """The outcome of validating one message.

    ``payload`` is the parsed JSON object (decimals exact, unknown fields included; None when
    the message is not an object), ``order`` the validated order (None unless ``issues`` is
    empty).
    """

    payload: dict[str, Any] | None
    order: OrderCreateV1 | None
    issues: tuple[ValidationIssue, ...]

    @property
    def valid(self) -> bool:
        return not self.issues


def field_path(loc: Sequence[int | str]) -> str:
    """``("OrderLines", 1, "Quantity")`` -> ``OrderLines[1].Quantity``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "$"


_MISSING_CODES = {
    ("ShipFromLocationID",): ErrorCode.MISSING_SHIP_FROM_LOCATION,
    ("OrderLines",): ErrorCode.NO_ORDER_LINES,
}
_TYPE_CODES = {
    "greater_than": ErrorCode.NON_POSITIVE_QUANTITY,
    "greater_than_equal": ErrorCode.NEGATIVE_AMOUNT,
    "decimal_parsing": ErrorCode.INVALID_DECIMAL,
    "decimal_type": ErrorCode.INVALID_DECIMAL,
    "finite_number": ErrorCode.INVALID_DECIMAL,
    "currency_code": ErrorCode.INVALID_CURRENCY,
    "ISO4217": ErrorCode.INVALID_CURRENCY,
    "string_too_long": ErrorCode.VALUE_TOO_LONG,
}


def _code_for(error: Mapping[str, Any]) -> ErrorCode:
    kind: str = error["type"]
    loc = tuple(p for p in error["loc"])
    name = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if kind in ErrorCode._value2member_map_:
        return ErrorCode(kind)
    if loc == ("ShipFromLocationID",) and kind in {
        "missing",
        "string_too_short",
        "string_pattern_mismatch",
    }:
        return ErrorCode.MISSING_SHIP_FROM_LOCATION
    if loc == ("OrderLines",) and kind in {"missing", "too_short"}:
        return ErrorCode.NO_ORDER_LINES
    if loc == ("OrderLines",) and kind == "too_long":
        return ErrorCode.TOO_MANY_ORDER_LINES
    if loc == ("SchemaVersion",):
        return ErrorCode.UNSUPPORTED_SCHEMA_VERSION
    if name == "CapturedDate":
        return ErrorCode.INVALID_DATE
    if name == "CurrencyCode" and kind != "string_type":
        return ErrorCode.INVALID_CURRENCY
    if kind == "missing":
        return _MISSING_CODES.get(loc, ErrorCode.MISSING_FIELD)
    if kind in _TYPE_CODES:
        return _TYPE_CODES[kind]
    if kind.endswith("_type") or kind in {"model_attributes_type", "dict_type"}:
        return ErrorCode.INVALID_TYPE
    return ErrorCode.INVALID_VALUE


def _issue_from(error: Mapping[str, Any]) -> ValidationIssue:
    if error["type"].endswith("_type") and error.get("input", "") is None:
        # An explicit null in a required field counts as missing.
        error = {**error, "type": "missing", "msg": "Field required"}
    code = _code_for(error)
    path = field_path(error["loc"])
    # pydantic's messages never contain the input value; only its null-ness is looked at above.
    return ValidationIssue(Code=code, Field=path, Message=f"{path}: {error['msg']}")


def _raw_lines(payload: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    lines = payload.get("OrderLines")
    if not isinstance(lines, list):
        return []
    return [(i, line) for i, line in enumerate(lines) if isinstance(line, Mapping)]


def _nul_issues(value: Any, path: str = "") -> list[ValidationIssue]:
    """Every string (key or value, unknown fields included) that holds U+0000.

    PostgreSQL stores neither text nor JSONB with a NUL character, so such an order could never
    be persisted: it is a validation error, not a failure to retry.
    """
    if isinstance(value, str):
        if "\x00" not in value:
            return []
        return [
            ValidationIssue(
                Code=ErrorCode.NUL_CHARACTER,
                Field=path or "$",
                Message=f"{path or '$'}: text must not contain the NUL character (U+0000)",
            )
        ]
    issues: list[ValidationIssue] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key).replace("\x00", "\\u0000")  # the path itself must stay printable
            child = f"{path}.{name}" if path else name
            issues.extend(_nul_issues(str(key), child))
            issues.extend(_nul_issues(item, child))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            issues.extend(_nul_issues(item, f"{path}[{index}]"))
    return issues


def _cross_field_issues(payload: Mapping[str, Any]) -> list[ValidationIssue]:
    """Rules between fields, checked on the raw object so they show up beside field errors."""
    issues = _nul_issues(payload)
    lines = _raw_lines(payload)
    line_ids = Counter(
        line["OrderLineID"] for _, line in lines if isinstance(line.get("OrderLineID"), str)
    )
    seen: set[str] = set()
    for index, line in lines:
        line_id = line.get("OrderLineID")
        if isinstance(line_id, str) and line_ids[line_id] > 1:
            if line_id in seen:
                issues.append(
                    ValidationIssue(
                        Code=ErrorCode.DUPLICATE_ORDER_LINE_ID,
                        Field=f"OrderLines[{index}].OrderLineID",
                        Message=f"OrderLineID {line_id!r} appears more than once",
                    )
                )
            seen.add(line_id)
    header_location = payload.get("ShipFromLocationID")
    if isinstance(header_location, str) and header_location:
        for index, line in lines:
            location = line.get("ShipFromLocationID")
            if isinstance(location, str) and location != header_location:
                issues.append(
                    ValidationIssue(
                        Code=ErrorCode.INCONSISTENT_SHIP_FROM_LOCATION,
                        Field=f"OrderLines[{index}].ShipFromLocationID",
                        Message="line ShipFromLocationID differs from the order's",
                    )
                )
    return issues


def _totals_issues(order: OrderCreateV1) -> list[ValidationIssue]:
    """Totals must add up where they are given (missing charges/taxes/discounts count as 0)."""
    issues: list[ValidationIssue] = []
    prices = [line.unit_price for line in order.order_lines]
    subtotal = order.order_sub_total
    if subtotal is not None and all(p is not None for p in prices):
        lines_sum = sum(
            (line.quantity * line.unit_price for line in order.order_lines if line.unit_price),
            Decimal(0),
        )
        if lines_sum != subtotal:
            issues.append(
                ValidationIssue(
                    Code=ErrorCode.SUBTOTAL_MISMATCH,
                    Field="OrderSubTotal",
                    Message=f"OrderSubTotal is not the sum of Quantity x UnitPrice ({lines_sum})",
                )
            )
    if order.order_total is not None and subtotal is not None:
        expected = (
            subtotal
            + (order.total_charges or 0)
            + (order.total_taxes or 0)
            - (order.total_discounts or 0)
        )
        if expected != order.order_total:
            issues.append(
                ValidationIssue(
                    Code=ErrorCode.TOTAL_MISMATCH,
                    Field="OrderTotal",
                    Message=(
                        "OrderTotal is not OrderSubTotal + TotalCharges + TotalTaxes "
                        f"- TotalDiscounts ({expected})"
                    ),
                )
            )
    return issues


def _model_issues(payload: dict[str, Any], exc: ValidationError) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for error in exc.errors():
        # OrderID has the envelope's rule (it decides whether the bridge can start at all).
        issue = order_id_issue(payload) if tuple(error["loc"]) == ("OrderID",) else None
        issues.append(issue or _issue_from(error))
    return issues


def validate_order(payload: Any) -> OrderValidation:
    """Full validation of a parsed message: the order, or every problem with it."""
    if not isinstance(payload, dict):
        issue = ValidationIssue(
            Code=ErrorCode.NOT_AN_OBJECT, Field="$", Message="an order must be a JSON object"
        )
        return OrderValidation(payload=None, order=None, issues=(issue,))
    issues: list[ValidationIssue] = []
    order: OrderCreateV1 | None = None
    try:
        order = OrderCreateV1.model_validate(payload)
    except ValidationError as exc:
        issues.extend(_model_issues(payload, exc))
    issues.extend(_cross_field_issues(payload))
    if order is not None:
        issues.extend(_totals_issues(order))
    return OrderValidation(
        payload=payload, order=order if not issues else None, issues=tuple(issues)
    )


def parse_order(raw: bytes | str) -> OrderValidation:
    """The raw message text, parsed once and validated fully (malformed JSON is an issue)."""
    try:
        payload = loads(raw)
    except MessageDecodeError as exc:
        issue = ValidationIssue(Code=ErrorCode.MALFORMED_JSON, Field="$", Message=str(exc))
        return OrderValidation(payload=None, order=None, issues=(issue,))
    return validate_order(payload)
