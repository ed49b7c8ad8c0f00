"""The ``orderflow`` command line. Each group lives in ``orderflow/commands/``.

Heavy imports happen inside the commands, so ``orderflow --help`` stays fast.
"""

from __future__ import annotations

import typer

from orderflow.commands import api, bridge, db, dev, dlq, produce, schemas, topics, worker

app = typer.Typer(
    name="orderflow",
    help="Orderflow: Kafka orders -> one durable Temporal workflow per order -> PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# Processes.
app.command("dev")(dev.dev)
app.command("worker")(worker.worker)
app.command("bridge")(bridge.bridge)
app.command("api")(api.api)
# Operations.
app.command("produce")(produce.produce)
app.add_typer(topics.app, name="topics")
app.add_typer(dlq.app, name="dlq")
app.add_typer(db.app, name="db")
app.add_typer(schemas.app, name="schemas")
