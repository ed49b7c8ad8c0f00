"""The ``orderflow`` command line. Each group lives in ``orderflow/commands/``.

Heavy imports happen inside the commands, so ``orderflow --help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="orderflow",
    help="Orderflow: Kafka orders -> one durable Temporal workflow per order -> PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# Command groups register themselves below (one line each).
from orderflow.commands import schemas as _schemas  # noqa: E402

app.add_typer(_schemas.app, name="schemas")
