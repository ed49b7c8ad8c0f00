"""Typed keys of the custom search attributes (registered by the dev stack and by deployment).

Operators find orders in the Web UI with e.g.
``OrderStatus = 1000 AND ShipFromLocationID = "DC-07"``. They are eventually consistent:
list views of the API read PostgreSQL instead.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

from contracts.workflow_io import SA_CORRELATION_ID, SA_ORDER_STATUS, SA_SHIP_FROM_LOCATION_ID

ORDER_STATUS = SearchAttributeKey.for_int(SA_ORDER_STATUS)
SHIP_FROM_LOCATION_ID = SearchAttributeKey.for_keyword(SA_SHIP_FROM_LOCATION_ID)
CORRELATION_ID = SearchAttributeKey.for_keyword(SA_CORRELATION_ID)
