"""``orderflow setup`` against fresh services, and the bridge's search-attribute check.

A Temporal dev server started *without* Orderflow's search attributes, a broker without topics
and an empty database: setup provisions all three, a second run changes nothing, and the bridge
starts afterwards. In ``verify`` mode (Temporal Cloud, Event Hubs) setup only checks and exits 1
naming what is missing; a bridge pointed at a namespace without the attributes refuses to start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow.devstack.broker import BrokerHandle, start_broker
from orderflow.devstack.net import free_port
from orderflow.devstack.temporal import TemporalHandle, start_temporal
from tests.fixtures.database import EmptyDatabases
from tests.helpers.http import wait_for_status
from tests.helpers.processes import orderflow_process

pytestmark = pytest.mark.integration

ATTRIBUTES = ("OrderStatus=Int", "ShipFromLocationID=Keyword", "CorrelationID=Keyword")


@pytest.fixture
def bare_temporal(tmp_path: Path) -> Iterator[TemporalHandle]:
    """A dev server in memory, without any custom search attribute."""
    handle = start_temporal(
        host="127.0.0.1",
        port=free_port(),
        ui_port=None,
        db_file=None,
        log_path=tmp_path / "temporal.log",
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def bare_broker(tmp_path: Path) -> Iterator[BrokerHandle]:
    """A broker without topics."""
    handle = start_broker(host="127.0.0.1", port=free_port(), log_path=tmp_path / "broker.log")
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def empty_database(empty_databases: EmptyDatabases) -> str:
    return await empty_databases.create("orderflow_setup")


def orderflow(
    *args: str, env: dict[str, str], timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess with ``env`` on top of a clean environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "orderflow", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def service_env(database: str, broker: BrokerHandle, temporal: TemporalHandle) -> dict[str, str]:
    return {
        "ORDERFLOW_DATABASE__URL": database,
        "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "ORDERFLOW_TEMPORAL__ADDRESS": temporal.address,
        "ORDERFLOW_KAFKA__PARTITIONS": "2",
        # These clients need no payload encryption (the codec has tests of its own).
        "ORDERFLOW_CODEC__ENABLED": "false",
    }


async def test_setup_provisions_fresh_services_once_then_the_bridge_starts(
    empty_database: str, bare_broker: BrokerHandle, bare_temporal: TemporalHandle, tmp_path: Path
) -> None:
    env = service_env(empty_database, bare_broker, bare_temporal)

    # Without the attributes the bridge refuses to start, naming them (a deployment fault).
    refused = orderflow("bridge", env={**env, "ORDERFLOW_BRIDGE__HTTP_PORT": str(free_port())})
    assert refused.returncode == 2, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert all(attribute in refused.stderr for attribute in ATTRIBUTES)
    assert "orderflow setup" in refused.stderr

    first = orderflow("setup", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "database: at head" in first.stdout
    assert "order.create.v1.dlq" in first.stdout  # created now
    assert "search attributes: OrderStatus=Int, ShipFromLocationID=Keyword" in first.stdout

    second = orderflow("setup", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "topics: none created" in second.stdout
    assert "search attributes: none registered" in second.stdout

    # The bridge now starts: it reaches readiness (its group assignment, Temporal answering).
    port = free_port()
    probes = {"ORDERFLOW_BRIDGE__HTTP_HOST": "127.0.0.1", "ORDERFLOW_BRIDGE__HTTP_PORT": str(port)}
    async with orderflow_process("bridge", env={**env, **probes}, log_path=tmp_path / "bridge.log"):
        await wait_for_status(f"http://127.0.0.1:{port}/health/ready", 200, timeout_s=90)


async def test_verify_mode_names_what_is_missing(
    empty_database: str, bare_broker: BrokerHandle, bare_temporal: TemporalHandle
) -> None:
    env = {
        **service_env(empty_database, bare_broker, bare_temporal),
        "ORDERFLOW_KAFKA__TOPIC_PROVISIONING": "verify",
        "ORDERFLOW_TEMPORAL__SEARCH_ATTRIBUTE_PROVISIONING": "verify",
    }
    result = orderflow("setup", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    missing = [line for line in result.stdout.splitlines() if "MISSING" in line]
    assert len(missing) == 2
    topics, attributes = missing
    assert "order.create.v1," in topics
    assert "order.status.v1.dlq" in topics
    assert all(attribute in attributes for attribute in ATTRIBUTES)
    assert "tcld namespace search-attributes add" in attributes
    # The database step still ran: migrations are the app's own to apply.
    assert "database: at head" in result.stdout
