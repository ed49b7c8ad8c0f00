"""``orderflow dev`` as a user runs it: a subprocess on a temporary state folder and free ports.

Checks what the issue's acceptance asks: the UI answers, the search attributes are listed, the
broker has the six topics with 7-day retention, Ctrl-C exits 0 leaving no process behind, and
a second start on the same folder comes up with the data of the first.
"""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from temporalio.client import Client

from codec.keys import parse_key_ring
from contracts.topics import ALL_TOPICS, RETENTION_MS
from orderflow.devstack import process as devstack_process
from orderflow.devstack.net import http_ok
from orderflow.devstack.postgres import ensure_database, start_embedded_postgres
from orderflow.devstack.process import ManagedProcess, ServiceError, find_binary
from orderflow.devstack.supervisor import READY_LINE
from provisioning.migrations import head_revision
from provisioning.topics import create_topics, list_topics, topic_configs
from tests.fixtures.containers import containers_mode, require_docker
from tests.helpers.http import wait_for_status
from tests.helpers.waiting import eventually, wait_until
from tests.integration.devstack_support import (
    START_TIMEOUT_S,
    DevStackRun,
    addresses,
    assert_nothing_left,
    scratch_folder,
    stack_env,
)

MARKER_WORKFLOW_ID = "devstack-state-marker"


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    with scratch_folder() as path:
        yield path


@pytest.fixture
def dev_env(scratch_dir: Path) -> dict[str, str]:
    return stack_env(scratch_dir)


def _search_attributes_listed(address: str) -> bool:
    result = subprocess.run(
        [find_binary("temporal"), "operator", "search-attribute", "list", "--address", address],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    listed = result.stdout
    wanted = ("OrderStatus", "Int"), ("ShipFromLocationID", "Keyword"), ("CorrelationID", "Keyword")
    return all(
        any(name in line and kind in line for line in listed.splitlines()) for name, kind in wanted
    )


async def _topic_retention(bootstrap: str) -> dict[str, str | None]:
    options = {"bootstrap_servers": bootstrap}
    assert set(ALL_TOPICS) <= set(await list_topics(options))
    configs = await topic_configs(options, ALL_TOPICS)
    return {topic: configs.get(topic, {}).get("retention.ms") for topic in ALL_TOPICS}


def _ui_codec_endpoint(ui: str) -> str | None:
    """The remote codec endpoint the Web UI was started with (its settings API)."""
    with urllib.request.urlopen(f"{ui}/api/v1/settings", timeout=5) as response:
        endpoint: str | None = json.load(response)["Codec"]["Endpoint"]
        return endpoint


async def _assert_payload_key(state_dir: Path, codec_url: str, ui: str) -> str:
    """The stack's key: generated in the state folder, owner-only; its codec server decodes
    for the Web UI, which was pointed at it. Returns the key file's content."""
    key_file = state_dir / "codec-keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert parse_key_ring(key_file.read_text())
    await wait_for_status(f"{codec_url}/health/ready", 200)
    assert _ui_codec_endpoint(ui) == codec_url
    assert "ORDERFLOW_CODEC__KEYS" in (state_dir / "dev.env").read_text()
    return key_file.read_text()


@pytest.mark.integration
@pytest.mark.timeout(300)
async def test_dev_stack_comes_up_stops_cleanly_and_keeps_state(dev_env: dict[str, str]) -> None:
    temporal, ui, broker, database = addresses(dev_env)

    # First start: everything up, leave a trace in PostgreSQL and Temporal, then Ctrl-C.
    first = DevStackRun(dev_env)
    try:
        first.wait_for_line(READY_LINE, START_TIMEOUT_S)
        output = "\n".join(first.lines)
        for address in (temporal, ui, broker, database):
            assert address in output
        assert http_ok(ui)
        # The worker and the bridge serve their probes and metrics on their own ports.
        for name, metric in (
            ("worker", "temporal_worker_task_slots_available"),
            ("bridge", "orderflow_bridge_in_flight"),
        ):
            base = f"http://127.0.0.1:{dev_env[f'ORDERFLOW_DEV__{name.upper()}_HTTP_PORT']}"
            assert f"{name.capitalize()} probes" in output
            assert f"{base}/health/ready" in output
            await wait_for_status(f"{base}/health/ready", 200)
            await wait_for_status(f"{base}/metrics", 200, body=metric)
        api = f"http://127.0.0.1:{dev_env['ORDERFLOW_API__PORT']}"
        assert f"API              {api}" in output
        # 200, not 503: the API's database and Temporal answer.
        await wait_for_status(f"{api}/health/ready", 200)
        await eventually(
            lambda: asyncio.to_thread(_search_attributes_listed, temporal), timeout_s=30
        )
        retention = await _topic_retention(broker)
        assert retention == dict.fromkeys(ALL_TOPICS, str(RETENTION_MS))
        codec_url = f"http://127.0.0.1:{dev_env['ORDERFLOW_CODEC__PORT']}"
        assert codec_url in output
        state_dir = Path(dev_env["ORDERFLOW_STATE_DIR"])
        first_key = await _assert_payload_key(state_dir, codec_url, ui)

        connection = await asyncpg.connect(database)
        # The stack migrated the database to head before it said it was ready.
        assert await connection.fetchval("SELECT version_num FROM alembic_version") == (
            head_revision()
        )
        await connection.execute("CREATE TABLE devstack_marker (note text)")
        await connection.execute("INSERT INTO devstack_marker VALUES ('kept')")
        await connection.close()
        client = await Client.connect(temporal)
        await client.start_workflow(
            "DevStackMarker", id=MARKER_WORKFLOW_ID, task_queue="devstack-nobody-polls"
        )

        children = first.descendants()
        assert first.interrupt() == 0
        assert_nothing_left(children)
    finally:
        first.kill()

    # Second start on the same state folder: the data of the first run is still there.
    second = DevStackRun(dev_env)
    try:
        second.wait_for_line(READY_LINE, START_TIMEOUT_S)
        connection = await asyncpg.connect(database)
        assert await connection.fetchval("SELECT note FROM devstack_marker") == "kept"
        await connection.close()
        client = await Client.connect(temporal)
        description = await client.get_workflow_handle(MARKER_WORKFLOW_ID).describe()
        assert description.workflow_type == "DevStackMarker"
        assert _search_attributes_listed(temporal)
        # The same key as before: the kept history stays decodable.
        assert await _assert_payload_key(state_dir, codec_url, ui) == first_key
        children = second.descendants()
        assert second.interrupt() == 0
        assert_nothing_left(children)
    finally:
        second.kill()


def test_a_service_that_dies_is_reported_with_its_log_tail(tmp_path: Path) -> None:
    process = ManagedProcess(
        name="flaky",
        argv=["sh", "-c", "echo 'listening failed: address in use'; exit 3"],
        log_path=tmp_path / "flaky.log",
    )
    process.start()
    with pytest.raises(ServiceError) as failure:
        # The stack's own wait (under test here) fails early when its process exits.
        devstack_process.wait_until(lambda: False, timeout_s=30, process=process)
    assert "flaky exited with code 3" in str(failure.value)
    assert "listening failed: address in use" in str(failure.value)


def test_stop_reaches_grandchildren(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    process = ManagedProcess(
        name="parent",
        argv=["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"],
        log_path=tmp_path / "parent.log",
    )
    process.start()
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "", timeout_s=10)
    grandchild = psutil.Process(int(pid_file.read_text()))
    process.stop()
    grandchild.wait(timeout=10)
    assert not grandchild.is_running()


def test_missing_binary_is_named() -> None:
    with pytest.raises(ServiceError, match="no-such-orderflow-tool"):
        find_binary("no-such-orderflow-tool")


def test_containers_mode_without_an_engine_skips_with_a_clear_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORDERFLOW_TEST_SERVICES", "containers")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert containers_mode()
    with pytest.raises(pytest.skip.Exception, match="needs a Docker engine; none is reachable"):
        require_docker()


@pytest.mark.integration
async def test_embedded_postgres_serves_tcp_and_keeps_data(scratch_dir: Path) -> None:
    """The path the test harness takes when no PostgreSQL answers on 127.0.0.1:5432."""
    data_dir = scratch_dir / "pgdata"
    server = start_embedded_postgres(data_dir)
    try:
        assert server.admin_url.startswith("postgresql://postgres@127.0.0.1:")
        assert await ensure_database(server.admin_url, "kept") is True
        assert await ensure_database(server.admin_url, "kept") is False
        connection = await asyncpg.connect(server.url("kept"))
        await connection.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (7)")
        await connection.close()
    finally:
        server.stop()
    assert server.process.exit_code() == 0

    again = start_embedded_postgres(data_dir)
    try:
        connection = await asyncpg.connect(again.url("kept"))
        assert await connection.fetchval("SELECT v FROM t") == 7
        await connection.close()
    finally:
        again.stop()


@pytest.mark.integration
async def test_create_topics_is_idempotent(kafka_bootstrap: str) -> None:
    options = {"bootstrap_servers": kafka_bootstrap}
    # The session broker already has every topic: nothing to create, and no error.
    assert await create_topics(options, partitions=3, replication_factor=1, retention_ms=1) == []
    extra = f"devstack.idempotence.{uuid.uuid4().hex[:8]}"
    topics = (extra, *ALL_TOPICS)
    created = await create_topics(
        options, partitions=2, replication_factor=1, retention_ms=RETENTION_MS, topics=topics
    )
    assert created == [extra]
    assert (await topic_configs(options, [extra]))[extra]["retention.ms"] == str(RETENTION_MS)
