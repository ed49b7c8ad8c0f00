"""The ``order.create.v1`` message as pydantic models: the order's fields
(:mod:`contracts.order`) plus the message's own, under their PascalCase wire names.

Unknown fields are kept (``extra="allow"``, in ``model_extra``); they travel with the raw
message. Only the wire names are accepted on input (a key ``order_id`` is an unknown field, not
``OrderID``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from contracts.limits import MAX_ORDER_LINES, SHORT_TEXT_MAX_LENGTH
from contracts.naming import pascal_case
from contracts.order import OrderFields, OrderLineFields

SUPPORTED_MAJOR_VERSION = 1
DEFAULT_SCHEMA_VERSION = "1.0"

ShortText = Annotated[str, StringConstraints(max_length=SHORT_TEXT_MAX_LENGTH)]
SchemaVersionText = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+){0,2}$")]

_MESSAGE = ConfigDict(
    extra="allow",
    validate_by_alias=True,
    validate_by_name=False,
    # Property titles of the published JSON Schema are derived from the wire names.
    field_title_generator=lambda name, _info: pascal_case(name).title(),
)


class OrderLineV1(OrderLineFields):
    model_config = _MESSAGE


class OrderCreateV1(OrderFields):
    """An order as published on ``order.create.v1`` (Manhattan Active Omni field names)."""

    model_config = ConfigDict(**_MESSAGE, title="order.create.v1")

    message_id: ShortText | None = None
    correlation_id: ShortText | None = None
    schema_version: SchemaVersionText = DEFAULT_SCHEMA_VERSION
    order_lines: Annotated[list[OrderLineV1], Field(min_length=1, max_length=MAX_ORDER_LINES)]
