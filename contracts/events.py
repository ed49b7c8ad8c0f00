"""Events Orderflow publishes: ``order.status.v1`` and ``order.validation.v1``."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.errors import ValidationIssue
from contracts.ids import status_event_id
from contracts.status import INITIAL_STATUS, status_name
from contracts.workflow_io import ValidationOutcome

EVENT_SCHEMA_VERSION = "1.0"


class OrderStatusChangedV1(BaseModel):
    """A status change of an order. ``EventID`` is ``{OrderID}:{ToStatus}:{sequence}``."""

    model_config = ConfigDict(extra="forbid", title="order.status.v1")

    SchemaVersion: str = EVENT_SCHEMA_VERSION
    EventID: str
    OrderID: str
    ShipFromLocationID: str
    FromStatus: int | None
    ToStatus: int
    StatusName: str
    OccurredAt: AwareDatetime
    CorrelationID: str
    Source: str | None = None
    Reason: str | None = None


class OrderValidationV1(BaseModel):
    """The result of validating an order; ``Errors`` lists every problem found."""

    model_config = ConfigDict(extra="forbid", title="order.validation.v1")

    SchemaVersion: str = EVENT_SCHEMA_VERSION
    EventID: str
    OrderID: str
    # Missing when the order itself has none; the event is then keyed by OrderID.
    ShipFromLocationID: str | None
    Valid: bool
    Errors: list[ValidationIssue]
    ValidatedAt: AwareDatetime
    CorrelationID: str
    MessageID: str | None = None


# ``Source`` of the status events the workflow itself publishes (API changes say "api").
WORKFLOW_SOURCE = "workflow"


def opened_status_event(
    order_id: str, ship_from_location_id: str, at: datetime, correlation_id: str
) -> OrderStatusChangedV1:
    """The ``order.status.v1`` event of an order's first status, 1000 Open (sequence 1)."""
    return OrderStatusChangedV1(
        EventID=status_event_id(order_id, INITIAL_STATUS, 1),
        OrderID=order_id,
        ShipFromLocationID=ship_from_location_id,
        FromStatus=None,
        ToStatus=INITIAL_STATUS,
        StatusName=status_name(INITIAL_STATUS),
        OccurredAt=at,
        CorrelationID=correlation_id,
        Source=WORKFLOW_SOURCE,
    )


def validation_result_event(
    outcome: ValidationOutcome,
    *,
    event_id: str,
    at: datetime,
    correlation_id: str,
    message_id: str | None,
) -> OrderValidationV1:
    """The ``order.validation.v1`` event reporting ``outcome``, every issue included."""
    return OrderValidationV1(
        EventID=event_id,
        OrderID=outcome.order_id,
        ShipFromLocationID=outcome.ship_from_location_id,
        Valid=outcome.valid,
        Errors=list(outcome.issues),
        ValidatedAt=at,
        CorrelationID=correlation_id,
        MessageID=message_id,
    )


def event_key(ship_from_location_id: str | None, order_id: str) -> bytes:
    """Partition key of an outgoing event: the location, else the order (never empty)."""
    return (ship_from_location_id or order_id).encode("utf-8")
