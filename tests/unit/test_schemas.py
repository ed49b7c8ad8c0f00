"""Committed JSON Schemas: up to date with the models and backward compatible."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import contracts.schemas
from contracts.schema_compat import compare
from contracts.schemas import generate_all
from orderflow.commands.schemas import render

SCHEMA_DIR = Path(contracts.schemas.__file__).parent
GENERATED = generate_all()


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_committed_schema_matches_the_models(name: str) -> None:
    committed = (SCHEMA_DIR / name).read_text()
    assert committed == render(GENERATED[name]), f"run `orderflow schemas generate` ({name})"


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_models_are_backward_compatible_with_the_committed_schema(name: str) -> None:
    assert compare(json.loads((SCHEMA_DIR / name).read_text()), GENERATED[name]) == []


def test_schema_accepts_a_sample_order() -> None:
    schema = json.loads((SCHEMA_DIR / "order.create.v1.json").read_text())
    order = {
        "OrderID": "ORD-1",
        "ShipFromLocationID": "DC-1",
        "OrderLines": [{"OrderLineID": "1", "ItemID": "i", "Quantity": "2.5", "UnitPrice": 3}],
        "Unknown": {"kept": True},
    }
    jsonschema.validate(order, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"ShipFromLocationID": "DC-1"}, schema)


def _create_schema() -> dict[str, Any]:
    return copy.deepcopy(GENERATED["order.create.v1.json"])


def test_compat_refuses_a_removed_property() -> None:
    new = _create_schema()
    del new["properties"]["OrgID"]
    assert any("OrgID: property removed" in p for p in compare(_create_schema(), new))


def test_compat_refuses_a_new_required_field() -> None:
    new = _create_schema()
    new["required"].append("CustomerID")
    assert any("CustomerID: property became required" in p for p in compare(_create_schema(), new))


def test_compat_refuses_a_narrowed_type_and_tighter_limits() -> None:
    new = _create_schema()
    new["properties"]["OrderID"]["maxLength"] = 32
    line = new["$defs"]["OrderLineV1"]["properties"]
    line["Quantity"] = {"type": "number", "exclusiveMinimum": 0}
    problems = compare(_create_schema(), new)
    assert any("$.OrderID: maxLength tightened" in p for p in problems)
    assert any("$.OrderLines[].Quantity: types narrowed" in p for p in problems)


def test_compat_allows_a_new_optional_field() -> None:
    new = _create_schema()
    new["properties"]["GiftMessage"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert compare(_create_schema(), new) == []
