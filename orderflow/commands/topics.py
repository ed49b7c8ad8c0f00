"""``orderflow topics``: provision the DESIGN.md topics (idempotent) and list them."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

app = typer.Typer(help="Kafka topics of Orderflow.", no_args_is_help=True)


def _admin_options() -> tuple[Any, dict[str, Any]]:
    from orderflow.devstack.discovery import NoBrokerError, bootstrap_servers
    from orderflow.kafka import common_options
    from orderflow.settings import SettingsError, load_settings

    try:
        settings = load_settings()
        servers = bootstrap_servers(settings)
    except (SettingsError, NoBrokerError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    return settings, common_options(settings.kafka, bootstrap_servers=servers)


@app.command()
def create(
    partitions: Annotated[
        int | None,
        typer.Option(min=1, help="Partitions of new topics [ORDERFLOW_KAFKA__PARTITIONS]"),
    ] = None,
) -> None:
    """Create the six topics with 7-day retention; existing topics are left unchanged."""
    from contracts.topics import ALL_TOPICS
    from orderflow.topics import create_topics

    settings, options = _admin_options()
    kafka = settings.kafka
    created = asyncio.run(
        create_topics(
            options,
            partitions=partitions or kafka.partitions,
            replication_factor=kafka.replication_factor,
            retention_ms=kafka.retention_ms,
        )
    )
    for name in ALL_TOPICS:
        typer.echo(f"{name}: {'created' if name in created else 'exists'}")


@app.command("list")
def list_() -> None:
    """List the topics the broker has, with their retention."""
    from orderflow.topics import list_topics, topic_configs

    _, options = _admin_options()
    names = asyncio.run(list_topics(options))
    configs = asyncio.run(topic_configs(options, names)) if names else {}
    for name in names:
        retention = configs.get(name, {}).get("retention.ms", "?")
        typer.echo(f"{name}  retention.ms={retention}")
