"""The ``order.create.v1`` message and its two levels of checking.

* :func:`parse_envelope` is the lenient parse the bridge needs: a JSON object with a usable
  ``OrderID`` and a supported major ``SchemaVersion``. Anything less is poison (DLQ, stage
  ``DESERIALIZE`` or ``SCHEMA``), raised as :class:`PoisonMessage`.
* :func:`validate_order` is the full validation the workflow runs: it returns *every* problem as a
  :class:`~contracts.errors.ValidationIssue`, never just the first one.

Unknown fields are kept (``extra="allow"``); they travel with the raw message.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic_extra_types.currency_code import ISO4217

from contracts.decimals import MoneyAmount, PositiveQuantity
from contracts.dlq import DlqStage
from contracts.errors import ErrorCode, ValidationIssue

SUPPORTED_MAJOR_VERSION = 1
DEFAULT_SCHEMA_VERSION = "1.0"
MAX_ORDER_LINES = 1000
ORDER_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
ORDER_ID_MAX_LENGTH = 64
# Field limits; the database enforces the same ones (db/models.py).
LOCATION_ID_MAX_LENGTH = 64
LINE_ID_MAX_LENGTH = 64
ITEM_ID_MAX_LENGTH = 128
UOM_MAX_LENGTH = 16
PARTY_ID_MAX_LENGTH = 64  # OrgID, CustomerID

OrderId = Annotated[
    str, StringConstraints(min_length=1, max_length=ORDER_ID_MAX_LENGTH, pattern=ORDER_ID_PATTERN)
]
# Location, line and item IDs: at least one character that is not blank.
LocationId = Annotated[
    str, StringConstraints(min_length=1, max_length=LOCATION_ID_MAX_LENGTH, pattern=r"\S")
]
LineId = Annotated[
    str, StringConstraints(min_length=1, max_length=LINE_ID_MAX_LENGTH, pattern=r"\S")
]
ItemId = Annotated[
    str, StringConstraints(min_length=1, max_length=ITEM_ID_MAX_LENGTH, pattern=r"\S")
]
ShortText = Annotated[str, StringConstraints(max_length=128)]
Uom = Annotated[str, StringConstraints(min_length=1, max_length=UOM_MAX_LENGTH)]
PartyId = Annotated[str, StringConstraints(max_length=PARTY_ID_MAX_LENGTH)]
SchemaVersionText = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+){0,2}$")]


class OrderLineV1(BaseModel):
    model_config = ConfigDict(extra="allow")

    OrderLineID: LineId
    ItemID: ItemId
    Quantity: PositiveQuantity
    UOM: Uom | None = None
    UnitPrice: MoneyAmount | None = None
    ShipFromLocationID: LocationId | None = None


class OrderCreateV1(BaseModel):
    """An order as published on ``order.create.v1`` (Manhattan Active Omni field names)."""

    model_config = ConfigDict(extra="allow", title="order.create.v1")

    MessageID: ShortText | None = None
    CorrelationID: ShortText | None = None
    SchemaVersion: SchemaVersionText = DEFAULT_SCHEMA_VERSION
    OrderID: OrderId
    ShipFromLocationID: LocationId
    OrgID: PartyId | None = None
    CustomerID: PartyId | None = None
    CurrencyCode: ISO4217 | None = None
    CapturedDate: datetime | None = None
    OrderLines: Annotated[list[OrderLineV1], Field(min_length=1, max_length=MAX_ORDER_LINES)]
    OrderSubTotal: MoneyAmount | None = None
    TotalCharges: MoneyAmount | None = None
    TotalTaxes: MoneyAmount | None = None
    TotalDiscounts: MoneyAmount | None = None
    OrderTotal: MoneyAmount | None = None

    @property
    def extra_fields(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


# --------------------------------------------------------------------------- JSON


class MessageDecodeError(ValueError):
    """The bytes are not a UTF-8 JSON document."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes | str) -> Any:
    """Parse JSON with every non-integer number as a Decimal (floats never touch a value)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise MessageDecodeError(f"value is not valid UTF-8 (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        # json.JSONDecodeError is a ValueError; its message names line/column, never content.
        raise MessageDecodeError(f"value is not valid JSON: {type(exc).__name__}") from None


# --------------------------------------------------------------------------- lenient parse


class PoisonMessage(Exception):  # noqa: N818 - a message, not an error of ours
    """The message cannot become a workflow: it goes to the DLQ with this stage and reason."""

    def __init__(self, stage: DlqStage, error_type: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class OrderEnvelope:
    """What the bridge needs to start a workflow; the rest is the workflow's business."""

    order_id: str
    schema_version: str
    ship_from_location_id: str | None
    message_id: str | None
    correlation_id: str | None
    payload: Mapping[str, Any] = field(repr=False)


def optional_text(payload: Mapping[str, Any], name: str) -> str | None:
    """Field ``name`` when it is a non-empty string, else None."""
    value = payload.get(name)
    return value if isinstance(value, str) and value else None


def loads_object(raw: bytes | str) -> dict[str, Any] | None:
    """The JSON object in ``raw``, or None when it is not UTF-8 JSON or not an object.

    For lenient readers of a message that is not validated yet (keys, summaries, DLQ tooling).
    """
    try:
        payload = loads(raw)
    except MessageDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def usable_ship_from_location(payload: object) -> str | None:
    """The message's ``ShipFromLocationID`` when it is a non-blank string, else None."""
    if not isinstance(payload, Mapping):
        return None
    value = payload.get("ShipFromLocationID")
    return value if isinstance(value, str) and value.strip() else None


def schema_major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def parse_envelope(value: bytes | None, *, max_bytes: int) -> OrderEnvelope:
    """Lenient parse of an ``order.create.v1`` value; raises :class:`PoisonMessage`."""
    if value is None or len(value) == 0:
        raise PoisonMessage(DlqStage.DESERIALIZE, "EmptyMessage", "message value is empty")
    if len(value) > max_bytes:
        raise PoisonMessage(
            DlqStage.DESERIALIZE,
            "MessageTooLarge",
            f"message value is {len(value)} bytes, more than the limit of {max_bytes}",
        )
    try:
        payload = loads(value)
    except MessageDecodeError as exc:
        raise PoisonMessage(DlqStage.DESERIALIZE, "MessageDecodeError", str(exc)) from None
    if not isinstance(payload, dict):
        raise PoisonMessage(
            DlqStage.DESERIALIZE,
            "NotAnObject",
            f"message value is a JSON {type(payload).__name__}, not an object",
        )
    version = payload.get("SchemaVersion", DEFAULT_SCHEMA_VERSION)
    if not isinstance(version, str) or schema_major(version) != SUPPORTED_MAJOR_VERSION:
        raise PoisonMessage(
            DlqStage.SCHEMA,
            "UnsupportedSchemaVersion",
            f"SchemaVersion must have major version {SUPPORTED_MAJOR_VERSION}",
        )
    issue = order_id_issue(payload)
    if issue is not None:
        raise PoisonMessage(DlqStage.SCHEMA, issue.Code.value, issue.Message)
    return OrderEnvelope(
        order_id=payload["OrderID"],
        schema_version=version,
        ship_from_location_id=optional_text(payload, "ShipFromLocationID"),
        message_id=optional_text(payload, "MessageID"),
        correlation_id=optional_text(payload, "CorrelationID"),
        payload=payload,
    )


def order_id_issue(payload: Mapping[str, Any]) -> ValidationIssue | None:
    """The problem with ``OrderID`` (it becomes the workflow ID), or None when it is usable."""
    if "OrderID" not in payload:
        return _issue_from({"type": "missing", "loc": ("OrderID",), "msg": "Field required"})
    try:
        _ORDER_ID.validate_python(payload["OrderID"])
    except ValidationError as exc:
        error = exc.errors()[0]
        return _issue_from({**error, "loc": ("OrderID",)})
    return None


_ORDER_ID: TypeAdapter[str] = TypeAdapter(OrderId)


# --------------------------------------------------------------------------- full validation


@dataclass(frozen=True)
class OrderValidation:
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
    ("OrderID",): ErrorCode.MISSING_ORDER_ID,
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
    if name == "OrderID" and len(loc) == 1:
        return {
            "missing": ErrorCode.MISSING_ORDER_ID,
            "string_too_short": ErrorCode.MISSING_ORDER_ID,
            "string_too_long": ErrorCode.ORDER_ID_TOO_LONG,
        }.get(kind, ErrorCode.INVALID_ORDER_ID if kind != "string_type" else ErrorCode.INVALID_TYPE)
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
    prices = [line.UnitPrice for line in order.OrderLines]
    subtotal = order.OrderSubTotal
    if subtotal is not None and all(p is not None for p in prices):
        lines_sum = sum(
            (line.Quantity * line.UnitPrice for line in order.OrderLines if line.UnitPrice),
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
    if order.OrderTotal is not None and subtotal is not None:
        expected = (
            subtotal
            + (order.TotalCharges or 0)
            + (order.TotalTaxes or 0)
            - (order.TotalDiscounts or 0)
        )
        if expected != order.OrderTotal:
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


def validate_order(payload: Any) -> OrderValidation:
    """Full validation: the order, or every problem with it as ``{Code, Field, Message}``."""
    if not isinstance(payload, Mapping):
        issue = ValidationIssue(
            Code=ErrorCode.NOT_AN_OBJECT, Field="$", Message="an order must be a JSON object"
        )
        return OrderValidation(order=None, issues=(issue,))
    issues: list[ValidationIssue] = []
    order: OrderCreateV1 | None = None
    try:
        order = OrderCreateV1.model_validate(payload)
    except ValidationError as exc:
        issues.extend(_issue_from(error) for error in exc.errors())
    issues.extend(_cross_field_issues(payload))
    if order is not None:
        issues.extend(_totals_issues(order))
    return OrderValidation(order=order if not issues else None, issues=tuple(issues))


def validate_order_json(raw: bytes | str) -> OrderValidation:
    """Full validation of the raw message text (malformed JSON is an issue, not an exception)."""
    try:
        payload = loads(raw)
    except MessageDecodeError as exc:
        issue = ValidationIssue(Code=ErrorCode.MALFORMED_JSON, Field="$", Message=str(exc))
        return OrderValidation(order=None, issues=(issue,))
    return validate_order(payload)
