"""Lenient reading of an ``order.create.v1`` value, before (or instead of) full validation.

* :func:`loads`: JSON with every non-integer number as a Decimal (floats never touch a value).
* :func:`read_fields`: the one lenient field reader. Whoever needs a field of a message that is
  not validated (the bridge's start, the DLQ tooling, the key of an invalid order's validation
  result) reads it here, so every reader applies the same rule to the same field.
* :func:`parse_envelope`: what the bridge needs to start a workflow: a JSON object with a
  usable ``OrderID`` and a supported major ``SchemaVersion``. Anything less is poison (DLQ,
  stage ``DESERIALIZE`` or ``SCHEMA``), raised as :class:`PoisonMessage`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contracts.dlq import DlqStage
from contracts.errors import ErrorCode, ValidationIssue
from contracts.order import OrderId
from contracts.order_create_v1.model import DEFAULT_SCHEMA_VERSION, SUPPORTED_MAJOR_VERSION

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


def loads_object(raw: bytes | str | None) -> dict[str, Any] | None:
    """The JSON object in ``raw``, or None when there is none (empty, not JSON, not an object)."""
    if not raw:
        return None
    try:
        payload = loads(raw)
    except MessageDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


# --------------------------------------------------------------------------- lenient fields


@dataclass(frozen=True)
class MessageFields:
    """Fields of a message that is not validated yet, each None unless usable.

    Text fields are usable when they are strings with a non-blank character (returned as
    they are); ``line_count`` is the length of an ``OrderLines`` array; ``order_total`` is the
    text of a number or string ``OrderTotal``.
    """

    order_id: str | None = None
    ship_from_location_id: str | None = None
    message_id: str | None = None
    correlation_id: str | None = None
    line_count: int | None = None
    order_total: str | None = None


def _text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and value.strip() else None


def read_fields(payload: object) -> MessageFields:
    """The usable fields of ``payload`` (a parsed message; anything but an object has none)."""
    if not isinstance(payload, Mapping):
        return MessageFields()
    lines = payload.get("OrderLines")
    total = payload.get("OrderTotal")
    return MessageFields(
        order_id=_text(payload, "OrderID"),
        ship_from_location_id=_text(payload, "ShipFromLocationID"),
        message_id=_text(payload, "MessageID"),
        correlation_id=_text(payload, "CorrelationID"),
        line_count=len(lines) if isinstance(lines, list) else None,
        # bool is an int in Python, but not a number in JSON.
        order_total=(
            str(total)
            if isinstance(total, str | int | Decimal) and not isinstance(total, bool)
            else None
        ),
    )


# --------------------------------------------------------------------------- envelope


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
    fields: MessageFields


_ORDER_ID: TypeAdapter[str] = TypeAdapter(OrderId)
_ORDER_ID_CODES = {
    "string_type": ErrorCode.INVALID_TYPE,
    "string_too_short": ErrorCode.MISSING_ORDER_ID,
    "string_too_long": ErrorCode.ORDER_ID_TOO_LONG,
}


def order_id_issue(payload: Mapping[str, Any]) -> ValidationIssue | None:
    """The problem with ``OrderID`` (it becomes the workflow ID), or None when it is usable.

    Absent and ``null`` are both missing. Messages never contain the value.
    """
    value = payload.get("OrderID")
    if value is None:
        return ValidationIssue(
            Code=ErrorCode.MISSING_ORDER_ID, Field="OrderID", Message="OrderID: Field required"
        )
    try:
        _ORDER_ID.validate_python(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        code = _ORDER_ID_CODES.get(error["type"], ErrorCode.INVALID_ORDER_ID)
        return ValidationIssue(Code=code, Field="OrderID", Message=f"OrderID: {error['msg']}")
    return None


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
        order_id=payload["OrderID"], schema_version=version, fields=read_fields(payload)
    )
