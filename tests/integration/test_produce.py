"""``orderflow produce``: the sample orders land on ``order.create.v1`` under their location key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from contracts.topics import ORDER_CREATE_V1
from orderflow.commands.produce import split_messages

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_ORDER = REPO_ROOT / "samples" / "order.json"
SAMPLE_LINES = REPO_ROOT / "samples" / "orders.jsonl"


def _produce(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": bootstrap}
    return subprocess.run(
        [sys.executable, "-m", "orderflow", "produce", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _records_with_header(
    bootstrap: str, topic: str, header: tuple[str, bytes], expected: int, timeout_s: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` carrying ``header``, read from the beginning (no group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # refreshes the cluster metadata
        partitions = consumer.partitions_for_topic(topic) or set()
        assert partitions, f"{topic} has no partitions"
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        found: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while len(found) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found += [r for r in records if header in list(r.headers)]
        return found
    finally:
        await consumer.stop()


@pytest.mark.integration
async def test_produce_sample_order_keyed_by_location(kafka_bootstrap: str) -> None:
    correlation_id = f"produce-test-{uuid.uuid4()}"
    result = _produce(kafka_bootstrap, str(SAMPLE_ORDER), "--correlation-id", correlation_id)
    assert result.returncode == 0, result.stderr

    records = await _records_with_header(
        kafka_bootstrap, ORDER_CREATE_V1, ("correlation-id", correlation_id.encode()), 1
    )
    assert len(records) == 1
    record = records[0]
    assert record.key == b"DC-EAST-01"
    # The original bytes, not a re-serialisation: decimals such as 8.99 stay as written.
    assert record.value == SAMPLE_ORDER.read_bytes().strip()
    assert json.loads(record.value)["OrderID"] == "ORD-1001"
    assert f"{ORDER_CREATE_V1}[{record.partition}]@{record.offset} key=DC-EAST-01" in result.stdout


@pytest.mark.integration
async def test_produce_json_lines_one_message_per_line(kafka_bootstrap: str) -> None:
    correlation_id = f"produce-test-{uuid.uuid4()}"
    lines = [line for line in SAMPLE_LINES.read_bytes().splitlines() if line.strip()]
    result = _produce(kafka_bootstrap, str(SAMPLE_LINES), "--correlation-id", correlation_id)
    assert result.returncode == 0, result.stderr

    records = await _records_with_header(
        kafka_bootstrap, ORDER_CREATE_V1, ("correlation-id", correlation_id.encode()), len(lines)
    )
    by_value = {record.value: record.key for record in records}
    assert by_value == {line: json.loads(line)["ShipFromLocationID"].encode() for line in lines}


def test_produce_without_broker_names_the_setting(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORDERFLOW_")}
    # A port nothing listens on stands in for "no local stack running".
    env["ORDERFLOW_DEV__BROKER_PORT"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "orderflow", "produce", str(SAMPLE_ORDER)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS" in result.stderr


def test_split_messages_single_document_keeps_its_bytes() -> None:
    raw = b'{\n  "OrderID": "A",\n  "ShipFromLocationID": "L1",\n  "Qty": 1.10\n}\n'
    [message] = split_messages(raw)
    assert message.value == raw.strip()
    assert message.key == b"L1"


def test_split_messages_json_lines_and_keyless_lines() -> None:
    raw = b'{"OrderID": "A", "ShipFromLocationID": "L1"}\n\nnot json\n{"OrderID": "B"}\n'
    messages = split_messages(raw)
    assert [(m.line, m.key, m.value) for m in messages] == [
        (1, b"L1", b'{"OrderID": "A", "ShipFromLocationID": "L1"}'),
        (3, None, b"not json"),
        (4, None, b'{"OrderID": "B"}'),
    ]


def test_split_messages_empty_file() -> None:
    assert split_messages(b"  \n") == []
