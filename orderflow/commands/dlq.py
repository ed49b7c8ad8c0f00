"""``orderflow dlq list`` and ``orderflow dlq redrive``: inspect and re-drive dead letters."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from contracts.dlq import DlqStage
from contracts.topics import DLQ_TOPICS

app = typer.Typer(help="Dead-letter queues: list records, re-drive them.", no_args_is_help=True)

TopicOption = Annotated[
    list[str] | None,
    typer.Option("--topic", help="DLQ topic to read (repeatable); all DLQ topics by default."),
]


def _kafka_options(*, group_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Consumer options (group ``group_id``) and producer options from the settings."""
    from config.kafka import consumer_options, producer_options
    from config.settings import KAFKA, load_settings

    kafka = load_settings(KAFKA).kafka
    return consumer_options(kafka, group_id=group_id), producer_options(kafka)


@app.command("list")
def list_records(
    topic: TopicOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many records.")] = 50,
) -> None:
    """Print DLQ records, oldest first, one JSON object a line (headers included)."""
    from bridges.redrive import list_dead_letters

    # No group: list_dead_letters reads without one and commits nothing.
    consumer, _ = _kafka_options(group_id="")
    topics = topic or list(DLQ_TOPICS)
    for entry in asyncio.run(list_dead_letters(consumer, topics, limit=limit)):
        typer.echo(json.dumps(entry.describe(), ensure_ascii=False))


@app.command()
def redrive(
    stage: Annotated[DlqStage | None, typer.Option(help="Only records of this stage.")] = None,
    order_id: Annotated[str | None, typer.Option(help="Only records of this OrderID.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would happen; change nothing.")] = False,
    topic: TopicOption = None,
    replace_value: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Corrected message to send instead of the stored value (needs --order-id).",
        ),
    ] = None,
) -> None:
    """Republish DLQ records to their original topic (key, headers + dlq.redrive.count).

    Progress is committed after each record in a consumer group of its own per selection
    (orderflow-dlq-redrive, orderflow-dlq-redrive.stage-VALIDATE, ...), so running the same
    selection again never re-drives twice, and a filtered run hides nothing from an unfiltered
    one. Check with --dry-run first.
    """
    from bridges.redrive import RedriveFilter, redrive_dead_letters, redrive_group
    from contracts.topics import DLQ_REDRIVE_CONSUMER_GROUP

    if replace_value is not None and order_id is None:
        typer.echo("--replace-value needs --order-id", err=True)
        raise typer.Exit(2)
    selection = RedriveFilter(stage=stage.value if stage else None, order_id=order_id)
    consumer, producer = _kafka_options(
        group_id=redrive_group(DLQ_REDRIVE_CONSUMER_GROUP, selection)
    )

    def show(entry: Any, action: str) -> None:
        where = f"{entry.topic}/{entry.partition}@{entry.offset}"
        typer.echo(f"{action:14} {where} stage={entry.stage} order={entry.order_id}")

    report = asyncio.run(
        redrive_dead_letters(
            consumer_options=consumer,
            producer_options=producer,
            topics=topic or list(DLQ_TOPICS),
            selection=selection,
            dry_run=dry_run,
            replacement_value=replace_value.read_bytes() if replace_value else None,
            on_entry=show,
        )
    )
    verb = "would re-drive" if dry_run else "re-drove"
    typer.echo(
        f"{verb} {len(report.redriven)}, passed over {report.passed_over}, "
        f"unroutable {report.unroutable}"
    )
