"""Size limits of the contract, defined once and imported wherever they are enforced: the
message models, the database's CHECK constraints, the API's parameters and the workflow inputs.

Changing one of them changes the published JSON Schema (``orderflow schemas check`` says
whether compatibly) and needs a new migration for the database's CHECK constraints.
"""

from __future__ import annotations

# Largest order.create.v1 value the bridge accepts (default 1 MiB; the setting
# ORDERFLOW_KAFKA__MAX_MESSAGE_BYTES overrides it). Larger values go to the DLQ.
MAX_MESSAGE_BYTES = 1_048_576

# Identifiers of an order.create.v1 message (and the columns that store them).
ORDER_ID_MAX_LENGTH = 64
# OrderID becomes the workflow ID ``order-{OrderID}``, so it is restricted to safe characters.
ORDER_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
LOCATION_ID_MAX_LENGTH = 64
LINE_ID_MAX_LENGTH = 64
ITEM_ID_MAX_LENGTH = 128
UOM_MAX_LENGTH = 16
PARTY_ID_MAX_LENGTH = 64  # OrgID, CustomerID
# MessageID and the CorrelationID field of the message.
SHORT_TEXT_MAX_LENGTH = 128
MAX_ORDER_LINES = 1000

# Money and quantities: what NUMERIC(18,4) holds.
MAX_FRACTIONAL_DIGITS = 4
MAX_INTEGER_DIGITS = 14

# Correlation IDs (the rule itself is contracts.correlation.accepted_correlation_id).
CORRELATION_ID_MAX_LENGTH = 128

# Status changes: who made one, and why.
STATUS_SOURCE_MAX_LENGTH = 64
REASON_MAX_LENGTH = 500

# Order lists (GET /orders and db.repository.list_orders).
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# dlq.error.message is cut to this many characters (it never echoes payload data).
MAX_ERROR_MESSAGE_CHARS = 512
