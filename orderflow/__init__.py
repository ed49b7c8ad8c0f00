"""Orderflow glue: settings, telemetry, the CLI and the local dev stack (no business rules)."""
