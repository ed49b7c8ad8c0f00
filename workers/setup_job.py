"""``orderflow setup``: deploy-time provisioning, idempotent, for deployment jobs and the local
stack alike.

1. Database migrations to head (a no-op when there already; concurrent runs serialise on an
   advisory lock).
2. Kafka topics: created where the platform lets the app create them
   (``ORDERFLOW_KAFKA__TOPIC_PROVISIONING=create``), verified where it does not (``verify``:
   Event Hubs, whose hubs come from the infrastructure templates).
3. Temporal search attributes: registered through the operator service (self-hosted, dev
   server), verified on Temporal Cloud (``ORDERFLOW_TEMPORAL__SEARCH_ATTRIBUTE_PROVISIONING=
   verify``, or when the server refuses the registration) — the report then names the ``tcld``
   command that creates them.

Every step runs even when an earlier one found something missing, so one run reports
everything; anything missing makes the job fail (exit 1) naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from config.database import database_url
from config.kafka import common_options
from config.settings import Provisioning, Settings
from provisioning.migrations import head_revision, upgrade_async
from provisioning.search_attributes import (
    describe,
    missing_search_attributes,
    register_search_attributes,
    temporal_cloud_command,
)
from provisioning.topics import create_topics, missing_topics, undersized_dlq_topics

# The server answers these when the app may not register search attributes (Temporal Cloud).
_NOT_ALLOWED = {RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED}


@dataclass
class SetupReport:
    done: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing


async def migrate(settings: Settings, report: SetupReport) -> None:
    await upgrade_async(database_url(settings.database), "head")
    report.done.append(f"database: at head ({head_revision()})")


async def provision_topics(settings: Settings, report: SetupReport) -> None:
    kafka = settings.kafka
    options = common_options(kafka)
    if kafka.topic_provisioning is Provisioning.CREATE:
        created = await create_topics(
            options,
            partitions=kafka.partitions,
            replication_factor=kafka.replication_factor,
            retention_ms=kafka.retention_ms,
            max_message_bytes=kafka.max_message_bytes,
        )
        report.done.append(f"topics: {', '.join(created) or 'none'} created, the rest existed")
        return
    absent = await missing_topics(options)
    if absent:
        report.missing.append(
            f"topics missing (create them with the infrastructure templates): {', '.join(absent)}"
        )
        return
    # A DLQ copy keeps the original bytes: its topic must take the largest source record.
    short = await undersized_dlq_topics(options, max_message_bytes=kafka.max_message_bytes)
    if short:
        sizes = ", ".join(
            f"{topic} takes {have} bytes, needs {need}" for topic, (have, need) in short.items()
        )
        report.missing.append(f"DLQ topics too small for their source's records: {sizes}")
    else:
        report.done.append("topics: all present, DLQ topics sized for their sources")


async def provision_search_attributes(
    client: Client, mode: Provisioning, report: SetupReport
) -> None:
    if mode is Provisioning.CREATE:
        try:
            registered = await register_search_attributes(client)
        except RPCError as error:
            if error.status not in _NOT_ALLOWED:
                raise
        else:
            report.done.append(
                f"search attributes: {describe(registered) if registered else 'none'} "
                "registered, the rest existed"
            )
            return
    absent = await missing_search_attributes(client)
    if absent:
        report.missing.append(
            f"search attributes missing in namespace {client.namespace}: {describe(absent)} "
            f"(Temporal Cloud: {temporal_cloud_command(client.namespace, absent)})"
        )
    else:
        report.done.append("search attributes: all present")


async def run_setup(
    settings: Settings, client: Client, *, echo: Callable[[str], None] = print
) -> SetupReport:
    """Run every step against the configured services; print one line per outcome."""
    report = SetupReport()
    await migrate(settings, report)
    await provision_topics(settings, report)
    await provision_search_attributes(
        client, settings.temporal.search_attribute_provisioning, report
    )
    for line in report.done:
        echo(f"setup: {line}")
    for line in report.missing:
        echo(f"setup: MISSING {line}")
    return report
