"""A database error during persistence carries no order data: not in the DLQ record's headers,
not in the workflow's failure, not in the worker's log lines (``hide_parameters=True``).

A test-only trigger makes PostgreSQL refuse one order's INSERT the way a constraint does, with
the row's values in the error's DETAIL; the workflow's small retry budget then sends the order
to the DLQ (stage ``PERSIST``) and fails it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import FailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.dlq import header_map
from contracts.topics import ORDER_CREATE_V1, dlq_topic
from tests.fixtures.worker import order_input, order_message
from tests.helpers.ids import unique_order_id
from tests.helpers.starts import start_order
from tests.integration.bridge_support import read_all

pytestmark = pytest.mark.integration

# Values of the order that must never appear outside its payload.
CUSTOMER = "CUST-SECRET-7731"
ITEM = "SKU-SECRET-4410"
PRICE = "9876.5432"
SECRETS = (CUSTOMER, ITEM, PRICE, "19753.0864")


@pytest.fixture
async def refusing_trigger(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[str]:
    """An order ID whose INSERT PostgreSQL refuses, quoting the row (as a CHECK does)."""
    order_id = unique_order_id("SQLERR")
    statements = [
        f"""CREATE FUNCTION test_refuse_order() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.order_id = '{order_id}' THEN
                RAISE EXCEPTION 'new row for relation "orders" violates a test constraint'
                    USING ERRCODE = 'check_violation',
                          DETAIL = 'Failing row contains ' || row_to_json(NEW)::text;
            END IF;
            RETURN NEW;
        END $$""",
        """CREATE TRIGGER test_refuse_order BEFORE INSERT ON orders
           FOR EACH ROW EXECUTE FUNCTION test_refuse_order()""",
    ]
    async with session_factory.begin() as session:
        for statement in statements:
            await session.execute(text(statement))
    try:
        yield order_id
    finally:
        async with session_factory.begin() as session:
            await session.execute(text("DROP TRIGGER test_refuse_order ON orders"))
            await session.execute(text("DROP FUNCTION test_refuse_order()"))


def failure_texts(error: BaseException | None) -> list[str]:
    """Every message and stack trace along a failure's cause chain."""
    texts: list[str] = []
    while error is not None:
        texts.append(str(error))
        if isinstance(error, FailureError) and error.failure is not None:
            texts += [error.failure.message, error.failure.stack_trace]
        error = error.__cause__
    return texts


def assert_clean(text_: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text_, f"{secret!r} in {where}: {text_}"
    assert "[parameters:" not in text_, where


async def test_a_sql_error_reaches_dlq_failure_and_logs_without_order_values(
    temporal_dev_env: WorkflowEnvironment,
    order_worker: Worker,
    kafka_bootstrap: str,
    refusing_trigger: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    order_id = refusing_trigger
    raw = order_message(
        order_id,
        CustomerID=CUSTOMER,
        OrderLines=[
            {"OrderLineID": "1", "ItemID": ITEM, "Quantity": "2", "UnitPrice": PRICE},
        ],
        OrderSubTotal="19753.0864",
        OrderTotal="19753.0864",
    )
    # INFO, the level processes run at (at DEBUG the Temporal SDK logs whole activity results).
    caplog.set_level(logging.INFO)
    handle = await start_order(temporal_dev_env.client, order_input(order_id, raw))
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    # The error did happen, and it is the one the trigger raised.
    texts = failure_texts(failed.value)
    assert any("violates a test constraint" in t for t in texts), texts
    for t in texts:
        assert_clean(t, "the workflow failure")

    letters = [
        r
        for r in await read_all(kafka_bootstrap, dlq_topic(ORDER_CREATE_V1))
        if header_map(r.headers).get("correlation-id") == f"corr-{order_id}"
    ]
    assert len(letters) == 1
    headers = header_map(letters[0].headers)
    assert headers["dlq.stage"] == "PERSIST"
    assert "violates a test constraint" in headers["dlq.error.message"]
    for name, value in headers.items():
        assert_clean(value, f"DLQ header {name}")
    assert letters[0].value == raw.encode()  # the copy itself is the original, of course

    logged = "\n".join(
        record.getMessage() + (f"\n{record.exc_text}" if record.exc_text else "")
        for record in caplog.records
    )
    assert "violates a test constraint" in logged  # the failure was logged ...
    assert_clean(logged, "the log")  # ... without the order's values
