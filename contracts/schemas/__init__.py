"""JSON Schemas of the published messages, generated from the pydantic models.

The committed files (``<topic>.json`` beside this module) are the published contract. A test
regenerates them and fails when they drift, and :mod:`contracts.schema_compat` fails a change that
is not backward compatible with the committed version. Regenerate with
``orderflow schemas generate`` after a deliberate, compatible change.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contracts.events import OrderStatusChangedV1, OrderValidationV1
from contracts.order_create_v1.model import OrderCreateV1
from contracts.topics import ORDER_CREATE_V1, ORDER_STATUS_V1, ORDER_VALIDATION_V1

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

MODELS_BY_TOPIC: dict[str, type[BaseModel]] = {
    ORDER_CREATE_V1: OrderCreateV1,
    ORDER_STATUS_V1: OrderStatusChangedV1,
    ORDER_VALIDATION_V1: OrderValidationV1,
}


def schema_file_name(topic: str) -> str:
    return f"{topic}.json"


def generate_schema(topic: str) -> dict[str, Any]:
    """The JSON Schema of a topic's messages as producers see it (validation mode)."""
    schema = MODELS_BY_TOPIC[topic].model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": f"urn:orderflow:schema:{topic}", **schema}


def generate_all() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every published topic."""
    return {schema_file_name(topic): generate_schema(topic) for topic in MODELS_BY_TOPIC}
