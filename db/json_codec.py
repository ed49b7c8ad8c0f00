"""JSON for JSONB columns without ever turning a decimal into a binary float.

Order messages are parsed with every non-integer number as :class:`~decimal.Decimal`
(:func:`contracts.order_create_v1.loads`). The standard library cannot *write* a Decimal as a
JSON number, so :func:`dumps_exact` does it itself; :func:`loads_exact` reads numbers back as
Decimals. ``{"Quantity": 1.2500}`` therefore round-trips through PostgreSQL unchanged.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def dumps_exact(value: Any) -> str:
    """Compact JSON text; Decimals are written as numbers with their exact digits.

    Raises ``ValueError`` for NaN/Infinity (not JSON) and ``TypeError`` for other objects.
    """
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    # bool before int: True is an int in Python.
    if value is None or isinstance(value, bool | int | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as JSON")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON with non-integer numbers as Decimals."""
    return json.loads(text, parse_float=Decimal)
