"""The contract's field names: PascalCase on the wire (Manhattan Active Omni style: ``OrderID``,
``ShipFromLocationID``, ``UOM``), snake_case in Python (``order_id``), which is also the name of
the database column. :func:`pascal_case` is the one translation between them, used as the alias
generator of every model that carries order fields, so each field is spelled once.
"""

from __future__ import annotations

from pydantic import ConfigDict

# Words that the wire spells in capitals.
_ACRONYMS = {"id": "ID", "uom": "UOM"}


def pascal_case(name: str) -> str:
    """``ship_from_location_id`` -> ``ShipFromLocationID``; ``uom`` -> ``UOM``."""
    return "".join(_ACRONYMS.get(word, word.capitalize()) for word in name.split("_"))


# Models read and write the wire names; Python code uses the snake_case attributes.
WIRE_NAMES = ConfigDict(alias_generator=pascal_case, serialize_by_alias=True)
