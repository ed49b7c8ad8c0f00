"""Persistence activities against the session's real PostgreSQL, run twice each: activities run
at least once, so a repeat must leave one row and one history row."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.models import PersistOrderInput, StatusChangeInput
from activities.persistence import PersistenceActivities
from contracts.errors import INVALID_STATUS_TRANSITION, ORDER_CONFLICT
from db.repository import get_order
from tests.fixtures.worker import order_message
from tests.helpers.ids import unique_order_id

pytestmark = pytest.mark.integration


def _environment(order_id: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=f"order-{order_id}")
    return env


def _persist_input(order_id: str, raw_message: str | None = None) -> PersistOrderInput:
    return PersistOrderInput(
        order_id=order_id,
        raw_message=raw_message or order_message(order_id),
        correlation_id=f"corr-{order_id}",
    )


async def test_new_order_persisted_twice_is_one_order_with_one_history_row(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    activities = PersistenceActivities(session_factory)
    order_id = unique_order_id("PA")
    env = _environment(order_id)

    first = await env.run(activities.persist_new_order, _persist_input(order_id))
    second = await env.run(activities.persist_new_order, _persist_input(order_id))

    assert (first.created, first.status_code) == (True, 1000)
    assert (second.created, second.status_code) == (False, 1000)
    async with session_factory() as session:
        stored = await get_order(session, order_id)
    assert stored is not None
    assert stored.status_code == 1000
    assert [line.order_line_id for line in stored.order_lines] == ["1", "2"]
    assert [(h.from_status, h.to_status) for h in stored.history] == [(None, 1000)]


async def test_status_change_applied_twice_writes_one_history_row(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    activities = PersistenceActivities(session_factory)
    order_id = unique_order_id("PA")
    env = _environment(order_id)
    await env.run(activities.persist_new_order, _persist_input(order_id))
    change = StatusChangeInput(
        order_id=order_id,
        from_status=1000,
        to_status=2000,
        source="test",
        correlation_id="corr-change",
        reason="allocated",
    )

    first = await env.run(activities.persist_status_change, change)
    second = await env.run(activities.persist_status_change, change)

    assert (first.applied, second.applied) == (True, False)
    assert second.changed_at == first.changed_at
    async with session_factory() as session:
        stored = await get_order(session, order_id)
    assert stored is not None
    assert stored.status_code == 2000
    assert [(h.from_status, h.to_status) for h in stored.history] == [(None, 1000), (1000, 2000)]


async def test_refused_transition_is_a_non_retryable_business_error(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    activities = PersistenceActivities(session_factory)
    order_id = unique_order_id("PA")
    env = _environment(order_id)
    await env.run(activities.persist_new_order, _persist_input(order_id))
    change = StatusChangeInput(
        order_id=order_id, from_status=1000, to_status=7000, source="test", correlation_id="c"
    )

    with pytest.raises(ApplicationError) as refused:
        await env.run(activities.persist_status_change, change)

    assert refused.value.type == INVALID_STATUS_TRANSITION
    assert refused.value.non_retryable


async def test_same_order_id_with_other_content_is_a_conflict(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    activities = PersistenceActivities(session_factory)
    order_id = unique_order_id("PA")
    env = _environment(order_id)
    await env.run(activities.persist_new_order, _persist_input(order_id))
    other = json.loads(order_message(order_id))
    other["CurrencyCode"] = "USD"

    with pytest.raises(ApplicationError) as conflict:
        await env.run(activities.persist_new_order, _persist_input(order_id, json.dumps(other)))

    assert conflict.value.type == ORDER_CONFLICT
    assert conflict.value.non_retryable
