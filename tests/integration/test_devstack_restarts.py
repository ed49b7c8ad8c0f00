"""Issue 13: the local stack restarts a crashed worker, bridge or API, and loses no order.

``orderflow dev`` runs as a subprocess on its own state folder and free ports, as a user runs
it; orders go in with ``orderflow produce`` after ``source <state>/dev.env``, as the README says.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from contracts.ids import workflow_id
from contracts.topics import DLQ_TOPICS, ORDER_STATUS_V1
from orderflow.devstack.supervisor import READY_LINE
from tests.fixtures.worker import order_message
from tests.helpers.ids import unique
from tests.helpers.waiting import eventually
from tests.integration.bridge_support import read_all
from tests.integration.devstack_support import (
    REPO_ROOT,
    START_TIMEOUT_S,
    DevStackRun,
    addresses,
    assert_nothing_left,
    scratch_folder,
    stack_env,
)

pytestmark = pytest.mark.integration

OPEN = 1000
FIRST_BATCH, SECOND_BATCH = 120, 80
# How long a restart may take to show: detection, back-off, a Python start-up on a busy machine.
RESTART_TIMEOUT_S = 60.0


@pytest.fixture
def dev_env() -> Iterator[dict[str, str]]:
    with scratch_folder() as path:
        yield stack_env(path)


def produce(env: dict[str, str], order_ids: list[str], folder: Path) -> None:
    """``source <state>/dev.env && orderflow produce FILE``, as in another shell."""
    batch = folder / f"{order_ids[0]}.jsonl"
    batch.write_text("".join(order_message(i) + "\n" for i in order_ids))
    dev_env_file = Path(env["ORDERFLOW_STATE_DIR"]) / "dev.env"
    shell_env = {k: v for k, v in env.items() if k != "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS"}
    script = 'source "$1" && exec "$2" -m orderflow produce "$3"'
    subprocess.run(
        ["bash", "-c", script, "produce", str(dev_env_file), sys.executable, str(batch)],
        cwd=REPO_ROOT,
        env=shell_env,
        check=True,
        capture_output=True,
        timeout=120,
    )


async def open_count(database: str, order_ids: list[str]) -> int:
    connection = await asyncpg.connect(database)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM orders WHERE status_code = $1 AND order_id = ANY($2)",
            OPEN,
            order_ids,
        )
        return count
    finally:
        await connection.close()


async def open_history_rows(database: str, order_ids: list[str]) -> dict[str, int]:
    connection = await asyncpg.connect(database)
    try:
        rows = await connection.fetch(
            "SELECT order_id, count(*) AS n FROM order_status_history"
            " WHERE to_status = $1 AND order_id = ANY($2) GROUP BY order_id",
            OPEN,
            order_ids,
        )
        return {row["order_id"]: row["n"] for row in rows}
    finally:
        await connection.close()


async def open_event_ids(broker: str) -> dict[str, set[str]]:
    """Per order, the distinct ``EventID``s of its Open events (a re-sent copy of an event
    keeps its ID: consumers drop it, so it is not a second Open)."""
    found: dict[str, set[str]] = collections.defaultdict(set)
    for record in await read_all(broker, ORDER_STATUS_V1):
        event = json.loads(record.value or b"null")
        if event["ToStatus"] == OPEN:
            found[event["OrderID"]].add(event["EventID"])
    return found


async def workflow_runs(temporal: str) -> collections.Counter[str]:
    client = await Client.connect(temporal)
    runs: collections.Counter[str] = collections.Counter()
    async for execution in client.list_workflows("WorkflowType = 'OrderWorkflow'"):
        runs[execution.id] += 1
    return runs


async def kill_mid_batch(stack: DevStackRun, name: str) -> int:
    """SIGKILL the stack's ``name`` child; wait for the stack to restart it; the new PID."""
    pid = stack.component_pid(name)
    assert pid is not None, f"no {name} running; output:\n{stack.output}"
    os.kill(pid, signal.SIGKILL)
    line = stack.wait_for_line(f"{name} was killed by SIGKILL", RESTART_TIMEOUT_S)
    assert f"{name}.log" in line
    assert "restarting in 1.0s" in line
    stack.wait_for_line(f"{name} restarted: pid", RESTART_TIMEOUT_S)
    new_pid = stack.component_pid(name)
    assert new_pid not in (None, pid)
    return pid


def crash_code(line: str) -> int:
    found = re.search(r"exited with code (-?\d+)", line)
    assert found, line
    return int(found.group(1))


@pytest.mark.timeout(300)
async def test_killed_worker_and_bridge_come_back_and_every_order_opens_once(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**dev_env, "ORDERFLOW_DEV__RESTART_BACKOFF_INITIAL_S": "1"}
    temporal, _, broker, database = addresses(env)
    first = [unique("CRASH") for _ in range(FIRST_BATCH)]
    second = [unique("CRASH") for _ in range(SECOND_BATCH)]
    everyone = first + second
    stack = DevStackRun(env)
    try:
        stack.wait_for_line(READY_LINE, START_TIMEOUT_S)

        produce(env, first, tmp_path)

        async def some_but_not_all_open() -> bool:
            return 0 < await open_count(database, first) < len(first)

        await eventually(some_but_not_all_open, timeout_s=120, interval_s=0.1, what="some Open")
        await kill_mid_batch(stack, "worker")

        # The bridge dies right after a second batch reaches the broker, with orders of it
        # still to start or to finish.
        produce(env, second, tmp_path)
        assert await open_count(database, everyone) < len(everyone)
        await kill_mid_batch(stack, "bridge")

        async def all_open() -> bool:
            return await open_count(database, everyone) == len(everyone)

        await eventually(all_open, timeout_s=180, interval_s=1.0, what="every order Open")

        # Exactly once: one workflow run, one Open history row, one Open event ID per order.
        wanted_ids = {workflow_id(i) for i in everyone}

        async def every_run_visible() -> bool:
            return set(await workflow_runs(temporal)) == wanted_ids

        await eventually(every_run_visible, timeout_s=30, what="every workflow listed")
        assert set((await workflow_runs(temporal)).values()) == {1}
        assert await open_history_rows(database, everyone) == dict.fromkeys(everyone, 1)

        async def every_event_published() -> bool:
            return set(await open_event_ids(broker)) == set(everyone)

        await eventually(every_event_published, timeout_s=60, what="an Open event per order")
        assert {i: len(ids) for i, ids in (await open_event_ids(broker)).items()} == dict.fromkeys(
            everyone, 1
        )
        for topic in DLQ_TOPICS:
            assert await read_all(broker, topic) == [], f"{topic} is not empty"

        # Ctrl-C while the worker waits for its restart (its second failure: 2 s back-off)
        # stops everything, and the worker is not started again.
        worker = stack.component_pid("worker")
        assert worker is not None
        children = stack.descendants()
        os.kill(worker, signal.SIGKILL)
        stack.wait_for_line("worker was killed by SIGKILL", RESTART_TIMEOUT_S)
        assert "restarting in 2.0s" in stack.lines[-1]
        assert stack.interrupt() == 0
        assert stack.wait_exit(30) == 0
        assert "worker restarted" not in stack.output.split("restarting in 2.0s")[-1]
        assert_nothing_left(children)
    finally:
        stack.kill()


@pytest.mark.timeout(180)
def test_a_configuration_error_stops_the_stack_at_once(dev_env: dict[str, str]) -> None:
    # Not loopback and no token: `orderflow api` refuses to start, exit code 2.
    env = {**dev_env, "ORDERFLOW_API__HOST": "0.0.0.0"}
    env.pop("ORDERFLOW_API__TOKEN", None)
    stack = DevStackRun(env)
    try:
        stack.wait_for_line(READY_LINE, START_TIMEOUT_S)
        children = stack.descendants()
        line = stack.wait_for_line("api exited with code 2", 60)
        assert "a configuration error (not restarted)" in line
        assert "ORDERFLOW_API__TOKEN is not set" in line
        assert stack.wait_exit(60) == 2
        assert "api restarted" not in stack.output
        assert "restarting in" not in stack.output
        assert_nothing_left(children)
    finally:
        stack.kill()


@pytest.mark.timeout(180)
def test_a_component_that_keeps_crashing_stops_the_stack(dev_env: dict[str, str]) -> None:
    env = {
        **dev_env,
        "ORDERFLOW_DEV__RESTART_LIMIT": "2",
        "ORDERFLOW_DEV__RESTART_WINDOW_S": "120",
        "ORDERFLOW_DEV__RESTART_BACKOFF_INITIAL_S": "0.2",
        "ORDERFLOW_DEV__RESTART_BACKOFF_MAX_S": "0.4",
    }
    # Another program holds the API's port (set explicitly, so the stack does not pick another
    # one): the API cannot bind and exits with uvicorn's start-up failure code (3), every time.
    # (Not the bridge's or the worker's probe port: with a Temporal connection in flight such
    # a process can hang at exit instead of exiting, which no exit-watching supervisor sees.)
    blocker = socket.create_server(("127.0.0.1", int(env["ORDERFLOW_API__PORT"])))
    stack = DevStackRun(env)
    try:
        stack.wait_for_line(READY_LINE, START_TIMEOUT_S)
        children = stack.descendants()
        for n, back_off in ((1, "0.2"), (2, "0.4")):
            line = stack.wait_for_line("api exited with code", RESTART_TIMEOUT_S)
            assert crash_code(line) not in (0, 2)
            assert f"restarting in {back_off}s (restart {n} of at most 2 within 120s)" in line
        line = stack.wait_for_line("restarts within 120s: giving up", RESTART_TIMEOUT_S)
        assert line.startswith("orderflow dev: api exited with code")
        assert "after 2 restarts" in line
        assert "(ORDERFLOW_DEV__RESTART_LIMIT=2, ORDERFLOW_DEV__RESTART_WINDOW_S=120)" in line
        assert stack.wait_exit(60) == 1
        # The end of the API's log came with it.
        assert "address already in use" in stack.output.split("giving up")[-1].lower()
        assert_nothing_left(children)
    finally:
        stack.kill()
        blocker.close()
