"""Events Orderflow publishes: ``order.status.v1`` and ``order.validation.v1``."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.errors import ValidationIssue

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


def event_key(ship_from_location_id: str | None, order_id: str) -> bytes:
    """Partition key of an outgoing event: the location, else the order (never empty)."""
    return (ship_from_location_id or order_id).encode("utf-8")
