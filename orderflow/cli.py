"""The ``orderflow`` command line. Each group lives in ``orderflow/commands/``.

Heavy imports happen inside the commands, so ``orderflow --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from orderflow.commands import (
    api,
    bridge,
    codec_server,
    db,
    dev,
    dlq,
    loadtest,
    produce,
    schemas,
    setup,
    topics,
    worker,
)

# Exit code of a process whose configuration is incomplete or invalid (DESIGN.md).
CONFIG_ERROR_EXIT_CODE = 2


class OrderflowGroup(TyperGroup):
    """Every command's :class:`config.settings.ConfigError`, wherever it is raised, becomes one
    line on stderr and exit code 2 (no traceback); a port that cannot be bound, one line and
    exit code 1."""

    def invoke(self, ctx: Any) -> Any:
        from config.settings import ConfigError
        from probes.http import ListenError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            print(f"orderflow: {exc}", file=sys.stderr)
            raise typer.Exit(CONFIG_ERROR_EXIT_CODE) from None
        except ListenError as exc:  # a taken port: one line too, but not a configuration error
            print(f"orderflow: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="orderflow",
    help="Orderflow: Kafka orders -> one durable Temporal workflow per order -> PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    cls=OrderflowGroup,
)

# Processes.
app.command("dev")(dev.dev)
app.command("worker")(worker.worker)
app.command("bridge")(bridge.bridge)
app.command("api")(api.api)
app.command("setup")(setup.setup)
app.command("codec-server")(codec_server.codec_server)
# Operations.
app.command("produce")(produce.produce)
app.command("loadtest")(loadtest.loadtest)
app.add_typer(topics.app, name="topics")
app.add_typer(dlq.app, name="dlq")
app.add_typer(db.app, name="db")
app.add_typer(schemas.app, name="schemas")


def main() -> None:
    """The console script (and ``python -m orderflow``)."""
    app(prog_name="orderflow")
