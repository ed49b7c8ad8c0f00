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
from orderflow.commands import dev as _dev  # noqa: E402
from orderflow.commands import produce as _produce  # noqa: E402
from orderflow.commands import topics as _topics  # noqa: E402

app.command("dev")(_dev.dev)
app.add_typer(_topics.app, name="topics")
app.command("produce")(_produce.produce)
from orderflow.commands import bridge as _bridge  # noqa: E402

app.command("bridge")(_bridge.bridge)
from orderflow.commands import dlq as _dlq  # noqa: E402

app.add_typer(_dlq.app, name="dlq")
from orderflow.commands import db as _db  # noqa: E402

app.add_typer(_db.app, name="db")
from orderflow.commands import worker as _worker  # noqa: E402

app.command("worker")(_worker.worker)
