"""The API's own request and response bodies. Orders are served as the database's views
(:mod:`db.records`: the contract's fields, PascalCase on the wire, money and quantities as
decimal strings exactly as stored, ``"12.3400"``); what is here are the bodies only the API
has: a status change and its answer, errors and health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.limits import REASON_MAX_LENGTH
from contracts.status import OrderStatus


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True)


class StatusChangeBody(BaseModel):
    """``POST /orders/{order_id}/status``: the status to move to and why."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ToStatus": 2000}]})

    ToStatus: OrderStatus
    Reason: Annotated[str, Field(max_length=REASON_MAX_LENGTH)] | None = None


class StatusChangedBody(_Body):
    """The order's new status, as the workflow applied it."""

    OrderID: str
    FromStatus: int
    StatusCode: int
    StatusName: str
    ChangedAt: datetime
    CorrelationID: str


class ErrorBody(_Body):
    """Error responses keep FastAPI's ``detail`` field (422 has its own, standard shape)."""

    detail: str


class LiveBody(_Body):
    Status: Literal["live"] = "live"


class CheckBody(_Body):
    Ok: bool
    Error: str | None = None


class ReadyBody(_Body):
    """``Failing`` names the parts that could not be reached (empty when ready)."""

    Status: Literal["ready", "unavailable"]
    Failing: list[str]
    Checks: dict[str, CheckBody]
