"""CLI command groups; each module exposes a typer ``app`` or plain command functions."""
