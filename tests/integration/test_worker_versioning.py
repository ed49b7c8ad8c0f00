"""Worker Deployment Versioning: a new worker version takes over a running order.

Deploys roll out a new worker version (build ID = image tag) and make it the deployment's
current version; the old workers then stop. Orders auto-upgrade: a running order's next
workflow task — here a status change weeks after it opened — runs on the new version.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from config.settings import WorkerSettings
from contracts.workflow_io import ChangeStatusRequest, ChangeStatusResult, OrderStatusView
from tests.fixtures.worker import FakeOrderActivities, order_input, register_search_attributes
from tests.helpers.ids import unique_order_id
from tests.helpers.starts import start_order
from tests.helpers.waiting import eventually
from workers.order_worker import build_order_worker, deployment_config

pytestmark = pytest.mark.integration


def versioned_worker(
    client: Client, fakes: FakeOrderActivities, *, task_queue: str, deployment: str, build: str
) -> Worker:
    settings = WorkerSettings(build_id=build, deployment_name=deployment)
    return build_order_worker(
        client,
        activities=fakes.activities(),
        task_queue=task_queue,
        deployment=deployment_config(settings),
    )


def make_current(client: Client, deployment: str, build: str) -> Callable[[], Awaitable[None]]:
    """What the deploy script does once the new version's workers poll."""

    async def set_current() -> None:
        await client.workflow_service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace, deployment_name=deployment, build_id=build
            )
        )

    return set_current


async def test_a_running_order_moves_to_the_new_worker_version(
    temporal_dev_env: WorkflowEnvironment,
) -> None:
    client = temporal_dev_env.client
    await register_search_attributes(client)
    deployment = f"orderflow-{uuid.uuid4().hex[:8]}"
    task_queue = f"versioning-{deployment}"
    fakes = FakeOrderActivities()

    async with versioned_worker(
        client, fakes, task_queue=task_queue, deployment=deployment, build="v1"
    ):
        # The server learns of the version from its first polls: retry until it does.
        await eventually(make_current(client, deployment, "v1"))
        handle = await start_order(client, order_input(unique_order_id("V")), task_queue=task_queue)

        async def is_open() -> None:
            view = await handle.query("status", result_type=OrderStatusView)
            assert view.status_code == 1000

        await eventually(is_open)
        described = await handle.describe()
        info = described.raw_description.workflow_execution_info.versioning_info
        assert info.deployment_version.build_id == "v1"

    # The rollout: v2's workers start, v2 becomes current, v1's workers are gone.
    async with versioned_worker(
        client, fakes, task_queue=task_queue, deployment=deployment, build="v2"
    ):
        await eventually(make_current(client, deployment, "v2"))
        result = await handle.execute_update(
            "change_status", ChangeStatusRequest(to_status=2000), result_type=ChangeStatusResult
        )
        assert result.to_status == 2000
        described = await handle.describe()
        info = described.raw_description.workflow_execution_info.versioning_info
        assert info.deployment_version.build_id == "v2"
        assert [change.to_status for change in fakes.status_changes] == [2000]


def test_without_a_build_id_the_worker_is_unversioned() -> None:
    assert deployment_config(WorkerSettings()) is None
    config = deployment_config(WorkerSettings(build_id="sha-1234"))
    assert config is not None
    assert config.use_worker_versioning is True
    assert config.version.deployment_name == "orderflow"
    assert config.version.build_id == "sha-1234"
