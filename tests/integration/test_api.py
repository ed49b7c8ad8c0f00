"""The HTTP API against the session's real PostgreSQL, Temporal dev server and broker.

Apps run in process (httpx over ASGI, lifespan entered by hand); orders are created through
the repository, or through a real workflow (the ``order_worker`` fixture) for status changes.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.deps import ApiDeps
from contracts.workflow_io import OrderStatusView
from db.engine import create_engine
from db.repository import change_status, upsert_order
from orderflow.devstack.net import free_port
from tests.fixtures.database import sample_order
from tests.fixtures.worker import order_input
from tests.helpers.http import wait_for_status
from tests.helpers.ids import unique_order_id
from tests.helpers.processes import orderflow_process
from tests.helpers.starts import start_order
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.integration


# Fixed (not random): test IDs are built from it, and parallel workers must collect the same IDs.
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _connect(client: Client) -> Callable[[], Awaitable[Client]]:
    async def connect() -> Client:
        return client

    return connect


@asynccontextmanager
async def running(app: FastAPI, **client_options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` with its lifespan entered, and an HTTP client that talks to it in process."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        yield await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://api", **client_options)
        )


@pytest.fixture(scope="module")
def deps(database_url: str, temporal_dev_env: WorkflowEnvironment) -> ApiDeps:
    return ApiDeps(
        create_engine=lambda: create_engine(database_url, pool_size=2),
        connect_temporal=_connect(temporal_dev_env.client),
        token=TOKEN,
        ready_timeout_s=5.0,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(deps: ApiDeps) -> AsyncIterator[FastAPI]:
    application = create_app(deps)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(loop_scope="session")
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An authorized client of the shared app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH) as c:
        yield c


@pytest_asyncio.fixture(loop_scope="session")
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        yield c


async def _store(session_factory: async_sessionmaker[AsyncSession], **changes: Any) -> str:
    order = sample_order(unique_order_id("API"), **changes)
    async with session_factory.begin() as session:
        await upsert_order(session, order)
    return order.order_id


# --------------------------------------------------------------------------- health


async def test_live_and_ready_without_a_token(anonymous: httpx.AsyncClient) -> None:
    live = await anonymous.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"Status": "live"}
    ready = await anonymous.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["Status"] == "ready"
    assert ready.json()["Failing"] == []
    # What the API itself needs; it never talks to the broker.
    assert set(ready.json()["Checks"]) == {"database", "temporal"}


@pytest.mark.parametrize("broken", ["database", "temporal"])
async def test_ready_names_the_part_that_cannot_be_reached(deps: ApiDeps, broken: str) -> None:
    closed = free_port()  # nobody listens here
    changes: dict[str, Any] = {}
    if broken == "database":
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed}/nothing"
        changes["create_engine"] = lambda: create_engine(url, pool_size=1)
    else:

        async def unreachable() -> Client:
            return await Client.connect(
                f"127.0.0.1:{closed}", data_converter=pydantic_data_converter, lazy=True
            )

        changes["connect_temporal"] = unreachable
    broken_app = create_app(ApiDeps(**{**deps.__dict__, **changes}))
    async with running(broken_app, headers=AUTH) as client:
        response = await client.get("/health/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["Status"] == "unavailable"
        assert body["Failing"] == [broken]
        assert body["Checks"][broken]["Ok"] is False
        assert body["Checks"][broken]["Error"]
        assert (await client.get("/health/live")).status_code == 200
        # The outcome is exported for dashboards and the OrderflowNotReady alert.
        metrics = (await client.get("/metrics")).text
        assert 'orderflow_ready{component="api"} 0.0' in metrics
        assert f'orderflow_ready_check{{check="{broken}",component="api"}} 0.0' in metrics
        if broken == "database":
            orders = await client.get("/orders/ANY-1")
            assert orders.status_code == 503
            assert orders.json() == {"detail": "database unavailable"}
        if broken == "temporal":
            change = await client.post("/orders/ANY-1/status", json={"ToStatus": 2000})
            assert change.status_code == 503
            assert "X-Correlation-ID" in change.headers


# --------------------------------------------------------------------------- reads


async def test_get_order_has_lines_history_and_exact_decimals(
    api: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await _store(session_factory)
    response = await api.get(f"/orders/{order_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["OrderID"] == order_id
    assert body["ShipFromLocationID"] == "DC-1"
    assert (body["StatusCode"], body["StatusName"]) == (1000, "Open")
    assert body["CurrencyCode"] == "EUR"
    assert body["OrderSubTotal"] == "7.5000"
    assert body["TotalCharges"] == "1.0000"
    assert body["TotalTaxes"] == "0.1234"
    assert body["TotalDiscounts"] == "0.0000"
    assert body["OrderTotal"] == "8.6234"
    assert body["CorrelationID"] == f"corr-{order_id}"
    assert [line["OrderLineID"] for line in body["OrderLines"]] == ["L1", "L2"]
    assert body["OrderLines"][1] == {
        "OrderLineID": "L2",
        "LineNumber": 2,
        "ItemID": "SKU-2",
        "Quantity": "2.0000",
        "UOM": "EA",
        "UnitPrice": "2.5000",
        "ShipFromLocationID": "DC-1",
    }
    (opened,) = body["History"]
    assert opened["FromStatus"] is None
    assert (opened["ToStatus"], opened["StatusName"]) == (1000, "Open")
    assert opened["Source"] == "workflow"
    assert opened["CorrelationID"] == f"corr-{order_id}"


async def test_unknown_order_is_404_and_a_malformed_id_422(api: httpx.AsyncClient) -> None:
    response = await api.get("/orders/NO-SUCH-ORDER-1")
    assert response.status_code == 404
    assert response.json() == {"detail": "order NO-SUCH-ORDER-1 not found"}
    assert (await api.get("/orders/not%20an%20id")).status_code == 422


async def test_list_filters_and_pages_newest_first(
    api: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    location = f"LOC-{uuid.uuid4().hex[:8]}"
    created = [await _store(session_factory, ship_from_location_id=location) for _ in range(5)]
    async with session_factory.begin() as session:
        await change_status(
            session,
            created[1],
            from_status=1000,
            to_status=2000,
            source="test",
            correlation_id=None,
        )

    everything = await api.get("/orders", params={"ship_from_location_id": location})
    assert everything.status_code == 200, everything.text
    listed = everything.json()["Orders"]
    assert everything.json()["NextCursor"] is None
    assert [order["OrderID"] for order in listed] == created[::-1]
    assert listed[0]["OrderTotal"] == "8.6234"
    assert listed[3]["StatusName"] == "Allocated"

    pages: list[str] = []
    cursor: str | None = None
    for expected_size in (2, 2, 1):
        params: dict[str, str | int] = {"ship_from_location_id": location, "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await api.get("/orders", params=params)).json()
        assert len(page["Orders"]) == expected_size
        pages += [order["OrderID"] for order in page["Orders"]]
        cursor = page["NextCursor"]
    assert cursor is None
    assert pages == created[::-1]

    allocated = await api.get("/orders", params={"ship_from_location_id": location, "status": 2000})
    assert [order["OrderID"] for order in allocated.json()["Orders"]] == [created[1]]


@pytest.mark.parametrize(
    "params",
    [{"status": 1234}, {"status": "open"}, {"limit": 0}, {"limit": 201}, {"cursor": "garbage!"}],
)
async def test_list_rejects_bad_parameters(api: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await api.get("/orders", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:2] == ["query", next(iter(params))]


# --------------------------------------------------------------------------- status changes


async def test_status_change_through_the_workflow(
    api: httpx.AsyncClient, order_worker: Worker, temporal_dev_env: WorkflowEnvironment
) -> None:
    order_id = unique_order_id("APIWF")
    handle = await start_order(temporal_dev_env.client, order_input(order_id))

    async def is_open() -> None:
        view = await handle.query("status", result_type=OrderStatusView)
        assert view.status_code == 1000

    await eventually(is_open)
    correlation = f"api-{uuid.uuid4().hex}"
    url = f"/orders/{order_id}/status"

    allocated = await api.post(
        url,
        json={"ToStatus": 2000, "Reason": "stock found"},
        headers={"X-Correlation-ID": correlation},
    )
    assert allocated.status_code == 200, allocated.text
    body = allocated.json()
    assert (body["OrderID"], body["FromStatus"]) == (order_id, 1000)
    assert (body["StatusCode"], body["StatusName"]) == (2000, "Allocated")
    assert body["CorrelationID"] == correlation
    assert allocated.headers["X-Correlation-ID"] == correlation

    refused = await api.post(url, json={"ToStatus": 1000})
    assert refused.status_code == 409
    assert "2000 Allocated -> 1000 Open is not allowed" in refused.json()["detail"]

    order = (await api.get(f"/orders/{order_id}")).json()
    assert order["StatusCode"] == 2000
    change = order["History"][-1]
    assert (change["FromStatus"], change["ToStatus"]) == (1000, 2000)
    assert (change["Source"], change["Reason"]) == ("api", "stock found")
    assert change["CorrelationID"] == correlation

    canceled = await api.post(url, json={"ToStatus": 9000})
    assert canceled.status_code == 200, canceled.text
    await handle.result()
    # The workflow has completed: the order is stored, so a change is refused, not unknown.
    after = await api.post(url, json={"ToStatus": 2000})
    assert after.status_code == 409
    assert "terminal status 9000" in after.json()["detail"]


async def test_status_change_of_an_unknown_order_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post("/orders/NO-SUCH-ORDER-2/status", json={"ToStatus": 2000})
    assert response.status_code == 404
    assert response.json() == {"detail": "order NO-SUCH-ORDER-2 not found"}


@pytest.mark.parametrize(
    "body",
    [
        {"ToStatus": 1234},
        {"ToStatus": "Allocated"},
        {"to_status": 2000},
        {},
        {"ToStatus": 2000, "Reason": "x" * 501},
    ],
)
async def test_status_change_body_is_validated(
    api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    assert (await api.post("/orders/ANY-2/status", json=body)).status_code == 422


# --------------------------------------------------------------------------- auth, headers, metrics


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
async def test_order_data_needs_the_token(anonymous: httpx.AsyncClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for response in (
        await anonymous.get("/orders", headers=headers),
        await anonymous.get("/orders/ANY-3", headers=headers),
        await anonymous.post("/orders/ANY-3/status", json={"ToStatus": 2000}, headers=headers),
    ):
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "X-Correlation-ID" in response.headers


async def test_correlation_id_is_echoed_or_generated(api: httpx.AsyncClient) -> None:
    echoed = await api.get("/orders/NO-SUCH-ORDER-3", headers={"X-Correlation-ID": "abc-123"})
    assert echoed.headers["X-Correlation-ID"] == "abc-123"
    generated = await api.get("/health/live")
    assert UUID_TEXT.match(generated.headers["X-Correlation-ID"])
    replaced = await api.get("/health/live", headers={"X-Correlation-ID": "has spaces"})
    assert UUID_TEXT.match(replaced.headers["X-Correlation-ID"])
    invalid = await api.get("/orders", params={"limit": 0}, headers={"X-Correlation-ID": "v-1"})
    assert invalid.headers["X-Correlation-ID"] == "v-1"


async def test_an_unhandled_error_is_a_500_that_still_carries_the_header(deps: ApiDeps) -> None:
    app = create_app(deps)

    async def boom() -> None:
        raise RuntimeError("bug")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get("/boom", headers={"X-Correlation-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert response.headers["X-Correlation-ID"] == "boom-1"


async def test_metrics_count_requests_per_route_template(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await api.get("/orders/NO-SUCH-ORDER-4")
    await api.get("/no/such/path")
    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'orderflow_api_requests_total{method="GET",route="/orders/{order_id}",status="404"}' in (
        text
    )
    assert 'route="<unmatched>"' in text
    assert "NO-SUCH-ORDER-4" not in text
    assert "orderflow_api_request_duration_seconds_bucket" in text
    # Every process's build and readiness (refreshed by the app itself, probed or not).
    assert 'orderflow_build_info{build_id="dev",component="api",version="' in text
    assert 'orderflow_ready{component="api"} 1.0' in text
    assert "_created" not in text


async def test_openapi_describes_the_pascal_case_bodies(anonymous: httpx.AsyncClient) -> None:
    schema = (await anonymous.get("/openapi.json")).json()
    assert {"/health/live", "/health/ready", "/orders", "/orders/{order_id}", "/metrics"} <= set(
        schema["paths"]
    )
    order = schema["components"]["schemas"]["OrderView"]["properties"]
    assert {"OrderID", "ShipFromLocationID", "StatusCode", "OrderLines", "History"} <= set(order)
    change = schema["paths"]["/orders/{order_id}/status"]["post"]
    assert {"200", "404", "409", "422", "503"} <= set(change["responses"])


# --------------------------------------------------------------------------- the process


async def test_api_process_serves_and_exits_0_on_sigterm(
    database_url: str, temporal_address: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ORDERFLOW_DATABASE__URL": database_url,
        "ORDERFLOW_TEMPORAL__ADDRESS": temporal_address,
        # The session's clients and workers use the plain converter (the codec has its own tests).
        "ORDERFLOW_CODEC__ENABLED": "false",
        "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ORDERFLOW_API__HOST": "127.0.0.1",
        "ORDERFLOW_API__PORT": str(port),
        "ORDERFLOW_API__TOKEN": TOKEN,
    }
    async with orderflow_process("api", env=env, log_path=tmp_path / "api.log") as process:
        # Ready (200, not 503) means the database and Temporal answer.
        await wait_for_status(f"http://127.0.0.1:{port}/health/ready", 200, timeout_s=30)
    # Leaving the block sent SIGTERM and checked exit code 0.
    output = process.log_text()
    assert "api stopped" in output
    assert TOKEN not in output
