"""Topic provisioning as code: create the DESIGN.md topics, idempotently.

Used by ``orderflow topics create``, the local stack and the test fixtures. Libraries call it
with plain values; only entry points turn settings into the arguments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code

from contracts.topics import ALL_TOPICS

_TOPIC_ALREADY_EXISTS = 36


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
    topics: Iterable[str] = ALL_TOPICS,
) -> list[str]:
    """Create each of ``topics`` that does not exist yet; return the names actually created.

    Existing topics are left as they are (their partition count and configuration are not
    changed), so running this again is harmless. Any other broker error is raised.
    """
    wanted = list(dict.fromkeys(topics))
    async with _admin(admin_options) as admin:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return []
        config = {"retention.ms": str(retention_ms)}
        response = await admin.create_topics(
            [
                NewTopic(
                    name=name,
                    num_partitions=partitions,
                    replication_factor=replication_factor,
                    topic_configs=config,
                )
                for name in missing
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


async def list_topics(admin_options: dict[str, Any]) -> list[str]:
    """Names of the topics the cluster has, sorted."""
    async with _admin(admin_options) as admin:
        return sorted(await admin.list_topics())


async def topic_configs(
    admin_options: dict[str, Any], topics: Iterable[str]
) -> dict[str, dict[str, str]]:
    """The configuration entries (name -> value) the broker reports for each topic."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    async with _admin(admin_options) as admin:
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
