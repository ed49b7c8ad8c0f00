"""Dead-letter queue header names and stages (DESIGN.md, "DLQ headers")."""

from __future__ import annotations

from enum import StrEnum


class DlqStage(StrEnum):
    DESERIALIZE = "DESERIALIZE"
    SCHEMA = "SCHEMA"
    VALIDATE = "VALIDATE"
    PERSIST = "PERSIST"
    PUBLISH = "PUBLISH"


H_STAGE = "dlq.stage"
H_ERROR_TYPE = "dlq.error.type"
H_ERROR_MESSAGE = "dlq.error.message"
H_ORIGINAL_TOPIC = "dlq.original.topic"
H_ORIGINAL_PARTITION = "dlq.original.partition"
H_ORIGINAL_OFFSET = "dlq.original.offset"
H_ORIGINAL_TIMESTAMP = "dlq.original.timestamp"
H_FAILED_AT = "dlq.failed_at"
H_ATTEMPTS = "dlq.attempts"
H_CORRELATION_ID = "correlation-id"
# Added by `orderflow dlq redrive` when a record goes back onto its original topic.
H_REDRIVE_COUNT = "dlq.redrive.count"

DLQ_HEADER_NAMES: tuple[str, ...] = (
    H_STAGE,
    H_ERROR_TYPE,
    H_ERROR_MESSAGE,
    H_ORIGINAL_TOPIC,
    H_ORIGINAL_PARTITION,
    H_ORIGINAL_OFFSET,
    H_ORIGINAL_TIMESTAMP,
    H_FAILED_AT,
    H_ATTEMPTS,
    H_CORRELATION_ID,
)

# Error messages are truncated and must never echo payload data.
MAX_ERROR_MESSAGE_CHARS = 512


def truncate_error_message(message: str) -> str:
    one_line = " ".join(message.split())
    if len(one_line) <= MAX_ERROR_MESSAGE_CHARS:
        return one_line
    return one_line[: MAX_ERROR_MESSAGE_CHARS - 1] + "…"
