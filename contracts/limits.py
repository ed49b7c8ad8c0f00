"""Size limits of the contract, defined once and imported wherever they are enforced."""

from __future__ import annotations

# Largest order.create.v1 value the bridge accepts (DESIGN.md: default 1 MiB; the setting
# ORDERFLOW_KAFKA__MAX_MESSAGE_BYTES overrides it). Larger values go to the DLQ.
MAX_MESSAGE_BYTES = 1_048_576
