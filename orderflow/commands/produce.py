"""``orderflow produce FILE``: publish orders as their producers would.

The value is the original bytes (a JSON object file as it is, or each line of a JSON-lines
file), never re-serialised, so decimals and unknown fields arrive exactly as written. The key
is the order's ``ShipFromLocationID`` (DESIGN.md: one order's messages stay in one partition).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from contracts.dlq import H_CORRELATION_ID as CORRELATION_HEADER
from contracts.topics import ORDER_CREATE_V1


@dataclass(frozen=True)
class Outgoing:
    key: bytes | None
    value: bytes
    line: int


def _key_of(value: bytes) -> bytes | None:
    """The ``ShipFromLocationID`` of a JSON object, or None when there is none to read."""
    try:
        document = json.loads(value)
    except ValueError:
        return None
    location = document.get("ShipFromLocationID") if isinstance(document, dict) else None
    return location.encode() if isinstance(location, str) and location else None


def split_messages(data: bytes) -> list[Outgoing]:
    """One message for a file holding one JSON value, else one per non-blank line."""
    stripped = data.strip()
    if not stripped:
        return []
    try:
        json.loads(stripped)
    except ValueError:
        pass  # not a single JSON document: JSON lines
    else:
        return [Outgoing(key=_key_of(stripped), value=stripped, line=1)]
    return [
        Outgoing(key=_key_of(line.strip()), value=line.strip(), line=number)
        for number, line in enumerate(data.splitlines(), start=1)
        if line.strip()
    ]


async def _send(
    options: dict[str, Any], topic: str, messages: list[Outgoing], headers: list[tuple[str, bytes]]
) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**options)
    await producer.start()
    try:
        for message in messages:
            metadata = await producer.send_and_wait(
                topic, value=message.value, key=message.key, headers=headers or None
            )
            key = message.key.decode() if message.key else "(none)"
            typer.echo(f"{topic}[{metadata.partition}]@{metadata.offset} key={key}")
    finally:
        await producer.stop()


def produce(
    file: Annotated[
        Path, typer.Argument(help="A JSON object, or JSON lines (one message each); - for stdin")
    ],
    topic: Annotated[str, typer.Option(help="Topic to publish to")] = ORDER_CREATE_V1,
    correlation_id: Annotated[
        str | None, typer.Option(help="Value of the correlation-id header")
    ] = None,
) -> None:
    """Publish order messages, keyed by ShipFromLocationID, to the broker of the settings.

    Needs ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS (`source .orderflow/dev.env` sets it for the
    local stack).
    """
    from config.kafka import producer_options
    from config.settings import KAFKA, load_settings

    options = producer_options(load_settings(KAFKA).kafka)

    if str(file) != "-" and not file.is_file():
        typer.echo(f"{file}: no such file", err=True)
        raise typer.Exit(2)
    data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    messages = split_messages(data)
    if not messages:
        typer.echo(f"{file}: no message to send", err=True)
        raise typer.Exit(1)
    for message in messages:
        if message.key is None:
            typer.echo(f"{file}:{message.line}: no ShipFromLocationID, sent without key", err=True)
    headers = [(CORRELATION_HEADER, correlation_id.encode())] if correlation_id else []
    asyncio.run(_send(options, topic, messages, headers))
