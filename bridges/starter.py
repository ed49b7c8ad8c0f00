"""Starting ``OrderWorkflow`` for a record, and what each Temporal failure means for the record.

* Started, or ``WorkflowAlreadyStartedError`` (the order's workflow is running or completed):
  the record is done. The conflict policy FAIL and the reuse policy
  ALLOW_DUPLICATE_FAILED_ONLY make the duplicate case exact: an order never gets a second
  workflow while one runs or after one completed, while a failed order may start again (that is
  how a corrected order is re-driven).
* Temporal unreachable, overloaded (``RESOURCE_EXHAUSTED``), timing out, or refusing us for a
  reason that is not the record's fault (auth, unknown namespace): :func:`is_transient` — the
  record stays uncommitted and is retried after a back-off, never dropped.
* Temporal refusing the request itself as invalid (``INVALID_ARGUMENT``,
  ``FAILED_PRECONDITION``, ``OUT_OF_RANGE``): :class:`StartRejectedError` — the record goes to the
  DLQ (stage ``SCHEMA``) so it cannot stall its partition, and can be re-driven.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from bridges.handler import StartOrder

_REJECTING = {
    RPCStatusCode.INVALID_ARGUMENT,
    RPCStatusCode.FAILED_PRECONDITION,
    RPCStatusCode.OUT_OF_RANGE,
}
START_RPC_TIMEOUT = timedelta(seconds=10)


class StartOutcome(StrEnum):
    STARTED = "started"
    DUPLICATE = "duplicate"


class StartRejectedError(Exception):
    """Temporal refused this start as invalid; the record belongs in the DLQ."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


# (client, request) -> None; raises WorkflowAlreadyStartedError for a duplicate.
StartFunction = Callable[[Client, StartOrder], Awaitable[object]]


def is_transient(error: BaseException) -> bool:
    """True when the failure is about Temporal's availability, not about the record."""
    if isinstance(error, RPCError):
        return error.status not in _REJECTING
    if isinstance(error, RuntimeError) and str(error).startswith("Failed client connect"):
        return True  # a lazy client could not reach the server (yet)
    return isinstance(error, (TimeoutError, ConnectionError))


async def start_order(client: Client, request: StartOrder, start: StartFunction) -> StartOutcome:
    """Start the order's workflow once; translate Temporal's answer into an outcome.

    Raises :class:`StartRejectedError` for a request Temporal refuses, and lets transient errors
    (:func:`is_transient`) propagate for the caller's back-off.
    """
    try:
        await start(client, request)
    except WorkflowAlreadyStartedError:
        return StartOutcome.DUPLICATE
    except RPCError as error:
        if error.status in _REJECTING:
            raise StartRejectedError(error.status.name, error.message) from error
        raise
    return StartOutcome.STARTED


async def start_with_contract_helper(client: Client, request: StartOrder) -> object:
    """The production start: :func:`workflows.start.start_order_workflow` (ID policies,
    search attributes, summary), with a deadline on the call itself."""
    from workflows.start import start_order_workflow

    return await start_order_workflow(client, request.input, rpc_timeout=START_RPC_TIMEOUT)
