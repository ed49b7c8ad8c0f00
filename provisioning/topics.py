"""Topic provisioning as code: create the DESIGN.md topics idempotently (DLQ topics sized to
take any record of their source topic), or verify they exist.

Used by ``orderflow setup``, ``orderflow topics create`` and the test fixtures. Libraries call it
with plain values; only entry points turn settings into the arguments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code

from contracts.limits import MAX_MESSAGE_BYTES
from contracts.topics import ALL_TOPICS, DLQ_SUFFIX

_TOPIC_ALREADY_EXISTS = 36
MAX_MESSAGE_BYTES_CONFIG = "max.message.bytes"
# Above the source's largest record: the DLQ headers (error message capped at 512 characters,
# coordinates, timestamps; ~1 KiB) and record-batch framing, with room to spare.
DLQ_HEADROOM_BYTES = 64 * 1024


@asynccontextmanager
async def _admin(admin_options: dict[str, Any]) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client, closed on the way out."""
    admin = AIOKafkaAdminClient(**admin_options)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def create_topics(
    admin_options: dict[str, Any],
    *,
    partitions: int,
    replication_factor: int,
    retention_ms: int,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    topics: Iterable[str] = ALL_TOPICS,
) -> list[str]:
    """Create each of ``topics`` that does not exist yet; return the names actually created.

    Existing topics are left as they are (their partition count and configuration are not
    changed), so running this again is harmless. Any other broker error is raised.

    A ``.dlq`` topic gets ``max.message.bytes`` large enough for any record of its source topic
    plus the DLQ headers (:func:`dlq_max_message_bytes`), so a dead letter is never refused for
    its size: the source's limit as the broker reports it, and at least ``max_message_bytes``
    (``ORDERFLOW_KAFKA__MAX_MESSAGE_BYTES``, the largest value the bridge accepts). Sources are
    created first so their limit can be read.
    """
    wanted = list(dict.fromkeys(topics))
    async with _admin(admin_options) as admin:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return []
        base = {"retention.ms": str(retention_ms)}
        sources = [name for name in missing if not name.endswith(DLQ_SUFFIX)]
        created = await _create(admin, sources, base, partitions, replication_factor)
        dlqs = {name: name.removesuffix(DLQ_SUFFIX) for name in missing if name not in sources}
        if dlqs:
            limits = await _reported_limits(admin, set(dlqs.values()))
            for dlq, source in dlqs.items():
                source_limit = max(max_message_bytes, limits.get(source, 0))
                config = {
                    **base,
                    MAX_MESSAGE_BYTES_CONFIG: str(dlq_max_message_bytes(source_limit)),
                }
                created += await _create(admin, [dlq], config, partitions, replication_factor)
        return [name for name in missing if name in created]


def dlq_max_message_bytes(source_max_message_bytes: int) -> int:
    """``max.message.bytes`` of a DLQ topic whose source accepts records up to the given size."""
    return source_max_message_bytes + DLQ_HEADROOM_BYTES


async def _create(
    admin: AIOKafkaAdminClient,
    names: list[str],
    config: dict[str, str],
    partitions: int,
    replication_factor: int,
) -> list[str]:
    if not names:
        return []
    response = await admin.create_topics(
        [
            NewTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs=config,
            )
            for name in names
        ]
    )
    created: list[str] = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        if code == 0:
            created.append(name)
        elif code != _TOPIC_ALREADY_EXISTS:  # another creator won a race: still fine
            message = entry[2] if len(entry) > 2 else ""
            raise for_code(code)(f"creating topic {name}: {message}")
    return created


async def _reported_limits(admin: AIOKafkaAdminClient, topics: set[str]) -> dict[str, int]:
    """``max.message.bytes`` of each topic as the broker reports it (Kafka reports the broker's
    default too; a broker that reports nothing leaves the topic out)."""
    existing = topics & set(await admin.list_topics())
    if not existing:
        return {}
    configs = await _describe(admin, existing)
    return {
        topic: int(value)
        for topic, entries in configs.items()
        if (value := entries.get(MAX_MESSAGE_BYTES_CONFIG)) is not None and value.isdigit()
    }


async def undersized_dlq_topics(
    admin_options: dict[str, Any],
    *,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    topics: Iterable[str] = ALL_TOPICS,
) -> dict[str, tuple[int, int]]:
    """The DLQ topics among ``topics`` whose ``max.message.bytes`` is reported below what their
    source needs: ``{topic: (reported, needed)}``. For verifying topics this code did not
    create (Event Hubs, or ones created before DLQ sizing)."""
    async with _admin(admin_options) as admin:
        dlqs = {t for t in topics if t.endswith(DLQ_SUFFIX)} & set(await admin.list_topics())
        sources = {dlq.removesuffix(DLQ_SUFFIX) for dlq in dlqs}
        limits = await _reported_limits(admin, dlqs | sources)
    short: dict[str, tuple[int, int]] = {}
    for dlq in sorted(dlqs):
        source = dlq.removesuffix(DLQ_SUFFIX)
        needed = dlq_max_message_bytes(max(max_message_bytes, limits.get(source, 0)))
        if dlq in limits and limits[dlq] < needed:
            short[dlq] = (limits[dlq], needed)
    return short


async def missing_topics(
    admin_options: dict[str, Any], topics: Iterable[str] = ALL_TOPICS
) -> list[str]:
    """Which of ``topics`` the cluster lacks (Event Hubs: hubs the infrastructure must create)."""
    existing = set(await list_topics(admin_options))
    return [name for name in dict.fromkeys(topics) if name not in existing]


async def list_topics(admin_options: dict[str, Any]) -> list[str]:
    """Names of the topics the cluster has, sorted."""
    async with _admin(admin_options) as admin:
        return sorted(await admin.list_topics())


async def topic_configs(
    admin_options: dict[str, Any], topics: Iterable[str]
) -> dict[str, dict[str, str]]:
    """The configuration entries (name -> value) the broker reports for each topic."""
    async with _admin(admin_options) as admin:
        return await _describe(admin, topics)


async def _describe(admin: AIOKafkaAdminClient, topics: Iterable[str]) -> dict[str, dict[str, str]]:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
    )
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        # resources: (error_code, error_message, resource_type, resource_name, config_entries)
        for resource in response.resources:
            entries = {entry[0]: entry[1] for entry in resource[4]}
            configs[resource[3]] = entries
    return configs
