"""Acceptance: with a key configured, Temporal holds no order value in clear text.

The real ``orderflow worker`` and ``orderflow codec-server`` run as subprocesses with
``ORDERFLOW_CODEC__KEYS``; an order is started through a client with the same key. Then:

* the history as the ``temporal`` CLI shows it (``workflow show --output json``) contains no
  order field value, neither as text nor inside any base64 payload;
* the search attributes stay plain: the CLI finds the order by ``ShipFromLocationID``;
* the codec server's ``/decode`` (with the bearer token) returns the values, and the CLI itself
  shows them when pointed at the codec server (``--codec-endpoint``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from codec.keys import new_key_ring_json
from config.settings import CodecSettings
from config.temporal import data_converter
from contracts.workflow_io import OrderStatusView
from orderflow.devstack.net import free_port, http_ok
from orderflow.devstack.process import ManagedProcess, find_binary, wait_until
from tests.fixtures.worker import order_input, order_message
from tests.helpers.ids import unique_order_id
from tests.helpers.starts import start_order
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "codec-acceptance-token"
LOCATION = "DC-77"
# Order field values that must not be readable without the key.
CUSTOMER = "CUST-PRIVATE-5521"
ITEM = "SKU-PRIVATE-8830"
PRICE = "4321.1234"
TOTAL = "8642.2468"
SECRETS = (CUSTOMER, ITEM, PRICE, TOTAL)


def exposed(text: str) -> set[str]:
    """The secrets readable in ``text``: as they are, or inside any base64 string of it."""
    found = {secret for secret in SECRETS if secret in text}
    for token in text.replace('"', " ").split():
        if len(token) < 16:
            continue
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        found |= {secret for secret in SECRETS if secret in decoded}
    return found


def temporal_cli(address: str, *args: str) -> str:
    result = subprocess.run(
        [find_binary("temporal"), *args, "--address", address, "--namespace", "default"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def raw_payloads(node: Any) -> Iterator[dict[str, Any]]:
    """Every payload (``{"metadata": …, "data": …}``) anywhere in a history's JSON."""
    if isinstance(node, dict):
        if "metadata" in node and "data" in node and isinstance(node["metadata"], dict):
            yield node
        for value in node.values():
            yield from raw_payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from raw_payloads(value)


@pytest.fixture
def keys() -> str:
    return new_key_ring_json("acceptance-1")


@pytest.fixture
def processes(
    keys: str, temporal_address: str, database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """``orderflow worker`` on a task queue of its own and ``orderflow codec-server``, both
    with the key; yields (task queue, codec server URL)."""
    task_queue = f"encrypted-{free_port()}"
    codec_port = free_port()
    env = {
        **os.environ,
        "ORDERFLOW_TEMPORAL__ADDRESS": temporal_address,
        "ORDERFLOW_TEMPORAL__TASK_QUEUE": task_queue,
        "ORDERFLOW_DATABASE__URL": database_url,
        "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ORDERFLOW_WORKER__HTTP_HOST": "127.0.0.1",
        "ORDERFLOW_WORKER__HTTP_PORT": str(free_port()),
        "ORDERFLOW_CODEC__KEYS": keys,
        "ORDERFLOW_CODEC__PORT": str(codec_port),
        "ORDERFLOW_API__TOKEN": TOKEN,
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.pop("ORDERFLOW_CODEC__ENABLED", None)
    started = [
        ManagedProcess(
            name=name,
            argv=[sys.executable, "-m", "orderflow", name],
            log_path=tmp_path / f"{name}.log",
            env=env,
            cwd=REPO_ROOT,
        )
        for name in ("worker", "codec-server")
    ]
    for process in started:
        process.start()
    codec_url = f"http://127.0.0.1:{codec_port}"
    try:
        wait_until(lambda: http_ok(f"{codec_url}/health/ready"), timeout_s=60, process=started[1])
        yield task_queue, codec_url
    finally:
        for process in started:
            process.stop()


async def test_history_holds_no_order_value_in_clear_text_but_the_codec_server_decodes_it(
    keys: str, temporal_address: str, processes: tuple[str, str]
) -> None:
    task_queue, codec_url = processes
    codec = CodecSettings(keys=SecretStr(keys))
    client = await Client.connect(temporal_address, data_converter=data_converter(codec))
    order_id = unique_order_id("ENC")
    raw = order_message(
        order_id,
        location=LOCATION,
        lines=1,
        CustomerID=CUSTOMER,
        OrderLines=[
            {"OrderLineID": "1", "ItemID": ITEM, "Quantity": "2", "UnitPrice": PRICE},
        ],
        OrderSubTotal=TOTAL,
        OrderTotal=TOTAL,
    )
    handle = await start_order(client, order_input(order_id, raw), task_queue=task_queue)

    async def is_open() -> None:
        view = await handle.query("status", result_type=OrderStatusView)
        assert view.status_code == 1000

    # Open = validated, persisted and published by the worker process, which holds the key.
    await eventually(is_open, timeout_s=90)

    # Without the key: nothing readable, whether the CLI shortens JSON payloads or not.
    workflow = ["--workflow-id", handle.id, "--output", "json"]
    shown = temporal_cli(temporal_address, "workflow", "show", *workflow)
    raw_shown = temporal_cli(
        temporal_address, "workflow", "show", *workflow, "--no-json-shorthand-payloads"
    )
    described = temporal_cli(temporal_address, "workflow", "describe", *workflow)
    for text in (shown, raw_shown, described):
        assert order_id in text  # the right workflow ...
        assert exposed(text) == set()  # ... and none of its values
    history = json.loads(raw_shown)
    payloads = list(raw_payloads(history))
    encodings = {base64.b64decode(p["metadata"]["encoding"]) for p in payloads}
    # Input, local activity results, the static summary: all encrypted. Search attributes are
    # not payloads of the history's events in this form (they travel in their own field).
    assert b"binary/encrypted" in encodings
    started = history["events"][0]
    summary = started["userMetadata"]["summary"]
    assert base64.b64decode(summary["metadata"]["encoding"]) == b"binary/encrypted"

    # Search attributes stay plain: operators still filter on them.
    listed = temporal_cli(
        temporal_address,
        "workflow",
        "list",
        "--query",
        f'ShipFromLocationID = "{LOCATION}" AND WorkflowId = "{handle.id}"',
        "--output",
        "json",
    )
    assert handle.id in listed

    # The codec server decodes them, for whoever holds the token.
    encrypted = [
        p for p in payloads if base64.b64decode(p["metadata"]["encoding"]) != b"json/plain"
    ]
    async with httpx.AsyncClient(base_url=codec_url, timeout=30) as http:
        refused = await http.post("/decode", json={"payloads": encrypted})
        assert refused.status_code == 401
        decoded = await http.post(
            "/decode",
            json={"payloads": encrypted},
            headers={"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"},
        )
    assert decoded.status_code == 200, decoded.text
    assert exposed(decoded.text) == set(SECRETS)
    texts = [base64.b64decode(p.get("data", "")).decode() for p in decoded.json()["payloads"]]
    assert any(f"Order {order_id}" in text for text in texts)  # the summary, decoded

    # And the CLI shows the values when pointed at the codec server.
    through_codec = await asyncio.to_thread(
        temporal_cli,
        temporal_address,
        "workflow",
        "show",
        *workflow,
        "--codec-endpoint",
        codec_url,
        "--codec-auth",
        f"Bearer {TOKEN}",
    )
    assert exposed(through_codec) == set(SECRETS)
    await handle.terminate("test done")
