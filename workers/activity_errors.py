"""Database errors leave the worker's activities without order data.

``hide_parameters=True`` (``db.engine``) keeps SQLAlchemy's ``[parameters: …]`` out of its
messages, but not the driver's exception that SQLAlchemy chains as the cause: asyncpg's text
carries PostgreSQL's ``DETAIL`` (``Failing row contains (…)``, the whole row), and Temporal
records the cause chain in the failure — in history, in the DLQ header, in the log line.

So every activity of the worker passes through :class:`DatabaseErrorRedaction`: an SQLAlchemy
statement error is re-raised as an ``ApplicationError`` of the same type name (retried as
before) with a message built from what never quotes a value — the driver's error class, the
SQLSTATE, PostgreSQL's primary message (except for data exceptions, whose primary message can
quote the offending value) and the statement with its placeholders — and no cause chain.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import StatementError
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from db.errors import redacted_message


class _RedactingInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except StatementError as error:
            raise ApplicationError(redacted_message(error), type=type(error).__name__) from None


class DatabaseErrorRedaction(Interceptor):
    """Worker interceptor: see the module docstring."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RedactingInbound(next)
