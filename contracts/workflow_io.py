"""Inputs and results of ``OrderWorkflow`` and its activities.

These are deliberately separate from the Kafka message classes: the workflow carries the raw
message text and re-validates it in an activity, so a change to the message models never breaks
the replay of running workflows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from contracts.errors import ValidationIssue
from contracts.limits import REASON_MAX_LENGTH

WORKFLOW_TYPE = "OrderWorkflow"
TASK_QUEUE = "orders"
STATUS_QUERY = "status"
CHANGE_STATUS_UPDATE = "change_status"

# Custom search attributes (registered by the dev stack and by deployment).
SA_ORDER_STATUS = "OrderStatus"
SA_SHIP_FROM_LOCATION_ID = "ShipFromLocationID"
SA_CORRELATION_ID = "CorrelationID"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")


class KafkaOrigin(_Frozen):
    """Where a message came from, for DLQ headers and tracing."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None
    key: bytes | None = None
    # The record's own headers, so the workflow's DLQ copy keeps them as the bridge's does.
    # Defaulted: histories started before this field existed still replay.
    headers: tuple[tuple[str, bytes], ...] = ()


class OrderWorkflowOptions(_Frozen):
    """Settings the workflow needs. Workflow code cannot read settings, so the starter copies
    them from ``ORDERFLOW_WORKFLOW__*`` into the input (``config.workflow.workflow_options``); a
    running order keeps the values it started with (and carries them across continue-as-new)."""

    # Retry budget of transient activity failures; when spent the message goes to the DLQ.
    activity_max_attempts: int = Field(default=10, ge=1)
    activity_initial_interval: timedelta = timedelta(seconds=1)
    activity_max_interval: timedelta = timedelta(seconds=60)
    # How long a delivered (7500) order may still be returned before its workflow completes.
    return_window: timedelta = timedelta(days=30)
    # Local activities (default) or regular ones: docs/decisions/0001-local-activities.md.
    local_activities: bool = True
    # The path to Open as one activity call (validate, persist, publish: the default since
    # release 0.2.0) or one call per step: docs/decisions/0010-open-in-one-step.md. Read it
    # through opens_in_one_step().
    open_in_one_step: bool = True
    # Continue-as-new after this many history events, besides the server's own suggestion.
    continue_as_new_after_events: int | None = Field(default=None, ge=10)

    def opens_in_one_step(self) -> bool:
        """Whether this order takes the path to Open in one activity call.

        An input written by a release before 0.2.0 has no ``open_in_one_step`` field: its order
        opens step by step, as it did when it started, so its history replays. Keying the
        behaviour on the order's immutable input (instead of ``workflow.patched``) costs no
        patch marker and no ``TemporalChangeVersion`` search-attribute upsert per order.
        """
        return self.open_in_one_step and "open_in_one_step" in self.model_fields_set


class OrderState(_Frozen):
    """An open order's state, carried across continue-as-new."""

    status: int
    # Number of status changes so far (Open is 1); part of each status event's EventID.
    sequence: int
    ship_from_location_id: str
    status_changed_at: datetime
    line_count: int = 0
    order_total: str | None = None


class OrderWorkflowInput(_Frozen):
    order_id: str
    correlation_id: str
    raw_message: str
    origin: KafkaOrigin | None = None
    message_id: str | None = None
    received_at: datetime | None = None
    # How many times this order has been (re)started; 1 for the first run.
    attempt: int = 1
    options: OrderWorkflowOptions = OrderWorkflowOptions()
    # Set only by continue-as-new: the order is already Open, so validation and persistence are
    # skipped (and raw_message is left empty; PostgreSQL keeps the original).
    resume: OrderState | None = None


class DeadLetter(_Frozen):
    """A request to write the original message to the DLQ of its topic."""

    stage: str
    error_type: str
    error_message: str
    raw_message: str
    correlation_id: str
    origin: KafkaOrigin | None = None
    attempts: int = 1
    failed_at: datetime | None = None
    # Without a Kafka origin (e.g. a status event that could not be published): where the
    # record was meant to go and its key.
    original_topic: str | None = None
    key: bytes | None = None


class ValidationOutcome(_Frozen):
    order_id: str
    ship_from_location_id: str | None
    valid: bool
    issues: tuple[ValidationIssue, ...] = ()
    line_count: int = 0
    order_total: str | None = None


class ChangeStatusRequest(_Frozen):
    to_status: int
    reason: str | None = Field(default=None, max_length=REASON_MAX_LENGTH)
    source: str = "api"
    correlation_id: str | None = None


class ChangeStatusResult(_Frozen):
    order_id: str
    from_status: int
    to_status: int
    status_name: str
    changed_at: datetime


class OrderStatusView(_Frozen):
    order_id: str
    status_code: int
    status_name: str
