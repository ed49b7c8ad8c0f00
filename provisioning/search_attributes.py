"""The custom search attributes of Orderflow's namespace: find what is missing, register it.

Operators filter orders in the Web UI on ``OrderStatus`` (Int), ``ShipFromLocationID`` and
``CorrelationID`` (Keyword); every workflow start sets them, so a namespace without them refuses
every start. Self-hosted Temporal and the dev server let the app register them through the
operator service; Temporal Cloud does not (they are created with the cloud tooling), so there
Orderflow only verifies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from contracts.workflow_io import SA_CORRELATION_ID, SA_ORDER_STATUS, SA_SHIP_FROM_LOCATION_ID

# DESIGN.md, "Temporal": name -> type.
SEARCH_ATTRIBUTES: Mapping[str, IndexedValueType.ValueType] = {
    SA_ORDER_STATUS: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    SA_SHIP_FROM_LOCATION_ID: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    SA_CORRELATION_ID: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}
RPC_TIMEOUT = timedelta(seconds=10)


def type_name(kind: IndexedValueType.ValueType) -> str:
    """``INDEXED_VALUE_TYPE_KEYWORD`` -> ``Keyword`` (how the CLI and the Web UI spell it)."""
    return IndexedValueType.Name(kind).removeprefix("INDEXED_VALUE_TYPE_").capitalize()


def describe(names: list[str]) -> str:
    """``OrderStatus=Int, CorrelationID=Keyword`` for messages and commands."""
    return ", ".join(f"{name}={type_name(SEARCH_ATTRIBUTES[name])}" for name in names)


async def missing_search_attributes(client: Client) -> list[str]:
    """Our attributes the client's namespace lacks, or has with another type."""
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace), timeout=RPC_TIMEOUT
    )
    present = dict(response.custom_attributes)
    return [name for name, kind in SEARCH_ATTRIBUTES.items() if present.get(name) != kind]


async def register_search_attributes(client: Client) -> list[str]:
    """Register the missing ones (idempotent); return the names registered now."""
    missing = await missing_search_attributes(client)
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={name: SEARCH_ATTRIBUTES[name] for name in missing},
            ),
            timeout=RPC_TIMEOUT,
        )
    return missing


def temporal_cloud_command(namespace: str, names: list[str]) -> str:
    """The command that creates ``names`` on a Temporal Cloud namespace (``tcld``)."""
    flags = " ".join(
        f"--search-attribute '{name}={type_name(SEARCH_ATTRIBUTES[name])}'" for name in names
    )
    return f"tcld namespace search-attributes add --namespace {namespace} {flags}"
