"""Money and quantity values: decimals that fit ``NUMERIC(18,4)`` exactly.

JSON numbers are parsed straight into :class:`~decimal.Decimal` (see
:func:`contracts.order_create_v1.envelope.loads`), so no value ever passes through a binary
float. In JSON output they are fixed-point strings with their exact digits (``"12.3400"``,
never ``1.234E+1``), which is how the API shows stored values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from contracts.errors import ErrorCode
from contracts.limits import MAX_FRACTIONAL_DIGITS, MAX_INTEGER_DIGITS


def fractional_digits(value: Decimal) -> int:
    """Significant fractional digits (``1.2500`` has 2: trailing zeros fit any scale)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(-exponent, 0)


def integer_digits(value: Decimal) -> int:
    if value == 0:
        return 0
    return max(value.adjusted() + 1, 0)


def check_numeric_18_4(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise PydanticCustomError(ErrorCode.INVALID_DECIMAL.value, "must be a finite decimal")
    if fractional_digits(value) > MAX_FRACTIONAL_DIGITS:
        raise PydanticCustomError(
            ErrorCode.TOO_MANY_DECIMALS.value,
            "at most {limit} fractional digits",
            {"limit": MAX_FRACTIONAL_DIGITS},
        )
    if integer_digits(value) > MAX_INTEGER_DIGITS:
        raise PydanticCustomError(
            ErrorCode.TOO_MANY_INTEGER_DIGITS.value,
            "at most {limit} integer digits",
            {"limit": MAX_INTEGER_DIGITS},
        )
    return value


def decimal_text(value: Decimal) -> str:
    """``Decimal("12.3400")`` -> ``"12.3400"`` (fixed-point: never an exponent)."""
    return format(value, "f")


_AS_TEXT = PlainSerializer(decimal_text, return_type=str, when_used="json")
_TEXT_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "pattern": r"^-?\d+(\.\d+)?$",
        "description": "Decimal with its exact digits (NUMERIC(18,4)), e.g. 12.3400",
        "examples": ["12.3400"],
    },
    mode="serialization",
)

# Sign checks run before the digit checks so "-1.23456" reports the sign first (and the
# published JSON Schema keeps its shape).
MoneyAmount = Annotated[
    Decimal,
    Field(ge=0, allow_inf_nan=False),
    AfterValidator(check_numeric_18_4),
    _AS_TEXT,
    _TEXT_SCHEMA,
]
PositiveQuantity = Annotated[
    Decimal,
    Field(gt=0, allow_inf_nan=False),
    AfterValidator(check_numeric_18_4),
    _AS_TEXT,
    _TEXT_SCHEMA,
]
