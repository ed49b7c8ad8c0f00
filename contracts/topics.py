"""Kafka topic names and consumer groups (``docs/architecture.md``)."""

from __future__ import annotations

ORDER_CREATE_V1 = "order.create.v1"
ORDER_STATUS_V1 = "order.status.v1"
ORDER_VALIDATION_V1 = "order.validation.v1"

DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


PRIMARY_TOPICS: tuple[str, ...] = (ORDER_CREATE_V1, ORDER_STATUS_V1, ORDER_VALIDATION_V1)
DLQ_TOPICS: tuple[str, ...] = tuple(dlq_topic(t) for t in PRIMARY_TOPICS)
ALL_TOPICS: tuple[str, ...] = PRIMARY_TOPICS + DLQ_TOPICS

BRIDGE_CONSUMER_GROUP = "orderflow-bridge"
DLQ_REDRIVE_CONSUMER_GROUP = "orderflow-dlq-redrive"

# Seven days, so every message can be replayed.
RETENTION_MS = 604_800_000
