"""The order's fields, defined once.

:class:`OrderFields` and :class:`OrderLineFields` are the field list of an order and of one of
its lines, with the contract's rules (lengths, patterns, ``NUMERIC(18,4)`` decimals). Everything
that carries an order builds on them instead of listing the fields again:

* the ``order.create.v1`` message (:mod:`contracts.order_create_v1.model`) adds the message's
  own fields (``MessageID``, ``SchemaVersion`` …) and its lines;
* the database's views (:mod:`db.records`), which the API also serves, add what the database
  knows (status, timestamps, line numbers, history);
* the repository (:mod:`db.repository`) reads and writes the columns named by
  :data:`ORDER_COLUMNS` and :data:`LINE_COLUMNS`: the ORM models (:mod:`db.models`) use the same
  snake_case names, and a test checks that every field has its column.

Attributes are snake_case; on the wire (JSON messages, API bodies) the names are PascalCase
(:mod:`contracts.naming`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, StringConstraints
from pydantic_extra_types.currency_code import ISO4217

from contracts.decimals import MoneyAmount, PositiveQuantity
from contracts.limits import (
    ITEM_ID_MAX_LENGTH,
    LINE_ID_MAX_LENGTH,
    LOCATION_ID_MAX_LENGTH,
    ORDER_ID_MAX_LENGTH,
    ORDER_ID_PATTERN,
    PARTY_ID_MAX_LENGTH,
    UOM_MAX_LENGTH,
)
from contracts.naming import WIRE_NAMES

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
Uom = Annotated[str, StringConstraints(min_length=1, max_length=UOM_MAX_LENGTH)]
PartyId = Annotated[str, StringConstraints(max_length=PARTY_ID_MAX_LENGTH)]
# ISO4217 is a str subclass; stored and compared as plain text.
CurrencyCode = Annotated[ISO4217, AfterValidator(str)]


class OrderLineFields(BaseModel):
    """One line of an order."""

    model_config = WIRE_NAMES

    order_line_id: LineId
    item_id: ItemId
    quantity: PositiveQuantity
    uom: Uom | None = None
    unit_price: MoneyAmount | None = None
    ship_from_location_id: LocationId | None = None


class OrderFields(BaseModel):
    """An order's header (its lines are added by each model that carries them)."""

    model_config = WIRE_NAMES

    order_id: OrderId
    ship_from_location_id: LocationId
    org_id: PartyId | None = None
    customer_id: PartyId | None = None
    currency_code: CurrencyCode | None = None
    captured_date: datetime | None = None
    order_sub_total: MoneyAmount | None = None
    total_charges: MoneyAmount | None = None
    total_taxes: MoneyAmount | None = None
    total_discounts: MoneyAmount | None = None
    order_total: MoneyAmount | None = None


# The database columns of an order and of a line: the same names as the fields.
ORDER_COLUMNS: tuple[str, ...] = tuple(OrderFields.model_fields)
LINE_COLUMNS: tuple[str, ...] = tuple(OrderLineFields.model_fields)
