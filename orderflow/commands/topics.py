"""``orderflow topics``: provision the DESIGN.md topics (idempotent) and list them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from config.settings import Settings

app = typer.Typer(help="Kafka topics of Orderflow.", no_args_is_help=True)


def _admin_options() -> tuple[Settings, dict[str, Any]]:
    from config.kafka import common_options
    from config.settings import KAFKA, load_settings

    settings = load_settings(KAFKA)
    return settings, common_options(settings.kafka)


@app.command()
def create(
    partitions: Annotated[
        int | None,
        typer.Option(min=1, help="Partitions of new topics [ORDERFLOW_KAFKA__PARTITIONS]"),
    ] = None,
) -> None:
    """Create the six topics with 7-day retention; existing topics are left unchanged."""
    from contracts.topics import ALL_TOPICS
    from provisioning.topics import create_topics

    settings, options = _admin_options()
    kafka = settings.kafka
    created = asyncio.run(
        create_topics(
            options,
            partitions=partitions or kafka.partitions,
            replication_factor=kafka.replication_factor,
            retention_ms=kafka.retention_ms,
            max_message_bytes=kafka.max_message_bytes,
        )
    )
    for name in ALL_TOPICS:
        typer.echo(f"{name}: {'created' if name in created else 'exists'}")


@app.command("list")
def list_() -> None:
    """List the topics the broker has, with their retention."""
    from provisioning.topics import list_topics, topic_configs

    _, options = _admin_options()
    names = asyncio.run(list_topics(options))
    configs = asyncio.run(topic_configs(options, names)) if names else {}
    for name in names:
        retention = configs.get(name, {}).get("retention.ms", "?")
        typer.echo(f"{name}  retention.ms={retention}")
