"""Dead-letter queue header names and stages (``docs/architecture.md``, "What the DLQ receives")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from contracts.limits import MAX_ERROR_MESSAGE_CHARS


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


def truncate_error_message(message: str) -> str:
    """One line of at most MAX_ERROR_MESSAGE_CHARS (callers never put payload data in it)."""
    one_line = " ".join(message.split())
    if len(one_line) <= MAX_ERROR_MESSAGE_CHARS:
        return one_line
    return one_line[: MAX_ERROR_MESSAGE_CHARS - 1] + "…"


def dlq_headers(
    *,
    stage: DlqStage | str,
    error_type: str,
    error_message: str,
    original_topic: str,
    original_partition: int | None,
    original_offset: int | None,
    original_timestamp_ms: int | None,
    failed_at: datetime,
    attempts: int,
    correlation_id: str,
    original_headers: Sequence[tuple[str, bytes]] = (),
) -> list[tuple[str, bytes]]:
    """The DLQ headers, as Kafka header tuples (UTF-8 values), after the original record's own
    headers (so a re-drive gives them back) minus the names the DLQ header set owns, which take
    this failure's values.

    ``dlq.original.timestamp`` is the original record's timestamp in epoch milliseconds, as
    Kafka gives it; ``dlq.failed_at`` is UTC ISO 8601. Unknown coordinates are sent as ``""``.
    """

    def text(value: object) -> bytes:
        return b"" if value is None else str(value).encode("utf-8")

    if failed_at.tzinfo is None:
        raise ValueError("failed_at must be timezone-aware")
    kept = [(name, raw) for name, raw in original_headers if name not in DLQ_HEADER_NAMES]
    return [
        *kept,
        (H_STAGE, text(DlqStage(stage).value)),
        (H_ERROR_TYPE, text(error_type)),
        (H_ERROR_MESSAGE, text(truncate_error_message(error_message))),
        (H_ORIGINAL_TOPIC, text(original_topic)),
        (H_ORIGINAL_PARTITION, text(original_partition)),
        (H_ORIGINAL_OFFSET, text(original_offset)),
        (H_ORIGINAL_TIMESTAMP, text(original_timestamp_ms)),
        (H_FAILED_AT, text(failed_at.astimezone(UTC).isoformat())),
        (H_ATTEMPTS, text(attempts)),
        (H_CORRELATION_ID, text(correlation_id)),
    ]


def header_map(headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]) -> dict[str, str]:
    """Kafka headers as a dict of text (the last value of a repeated name wins)."""
    return {name: value.decode("utf-8", "replace") for name, value in headers}
