"""Inputs and results of the activities that only the workflow and the activities share.

The workflow's own input and the shared results (``ValidationOutcome``, ``DeadLetter``) live in
:mod:`contracts.workflow_io`. Everything here is plain pydantic: safe in the workflow sandbox.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from contracts.workflow_io import ValidationOutcome


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ValidateOrderInput(_Frozen):
    order_id: str
    raw_message: str
    correlation_id: str


class PersistOrderInput(_Frozen):
    order_id: str
    raw_message: str
    correlation_id: str


class PersistOrderResult(_Frozen):
    # False when the order already existed (an activity retry or a re-driven order).
    created: bool
    # The order's status in the database; 1000 unless a re-driven order had moved on.
    status_code: int
    # When this attempt's transaction committed (the end of the Kafka-to-Open latency); absent
    # in histories recorded before it existed.
    persisted_at: datetime | None = None


class StatusChangeInput(_Frozen):
    order_id: str
    from_status: int
    to_status: int
    source: str
    correlation_id: str
    reason: str | None = None


class StatusChangeRecord(_Frozen):
    changed_at: datetime
    # False when an earlier attempt had already applied the change (idempotent retry).
    applied: bool


class PublishReceipt(_Frozen):
    """Where the broker stored a record (acknowledged by all in-sync replicas)."""

    topic: str
    partition: int
    offset: int


class OpenOrderInput(_Frozen):
    """Everything :func:`open_order` needs to take an order to Open in one step; the event IDs
    and the time are the workflow's, so every attempt publishes the same events."""

    order_id: str
    raw_message: str
    correlation_id: str
    message_id: str | None = None
    validation_event_id: str
    opened_at: datetime


class OpenOrderResult(_Frozen):
    outcome: ValidationOutcome
    # For a valid order: False when it was already stored (a retry, a re-driven order).
    created: bool = False
    # For a valid order: its status in the database (1000 unless a re-driven order moved on).
    status_code: int | None = None
    # Wall clock when both events were published: the end of Kafka record -> Open.
    opened_at: datetime | None = None
