"""Event Hubs: the bridge's clients take SASL_SSL, PLAIN, `$ConnectionString` from settings."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from config.kafka import consumer_options, producer_options
from config.settings import Settings

CONNECTION_STRING = "Endpoint=sb://orders-ns.servicebus.windows.net/;SharedAccessKeyName=bridge;SharedAccessKey=s3cr3t"


@pytest.fixture
def event_hubs_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    env = {
        "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": "orders-ns.servicebus.windows.net:9093",
        "ORDERFLOW_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "ORDERFLOW_KAFKA__SASL_USERNAME": "$ConnectionString",
        "ORDERFLOW_KAFKA__SASL_PASSWORD": CONNECTION_STRING,
        "ORDERFLOW_KAFKA__ENABLE_IDEMPOTENCE": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def kafka_options(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the bridge process builds from its settings."""
    kafka = settings.kafka
    return consumer_options(kafka, group_id=settings.bridge.group_id), producer_options(kafka)


def test_consumer_and_producer_options_carry_sasl_ssl(event_hubs_settings: Settings) -> None:
    consumer, producer = kafka_options(event_hubs_settings)
    for options in (consumer, producer):
        assert options["bootstrap_servers"] == "orders-ns.servicebus.windows.net:9093"
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "PLAIN"
        assert options["sasl_plain_username"] == "$ConnectionString"
        assert options["sasl_plain_password"] == CONNECTION_STRING
        assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert consumer["group_id"] == "orderflow-bridge"
    assert consumer["enable_auto_commit"] is False
    assert producer["enable_idempotence"] is True
    assert producer["acks"] == "all"
    # The DLQ producer can write back the largest record the consumer fetches.
    assert producer["max_request_size"] > consumer["max_partition_fetch_bytes"]


async def test_aiokafka_accepts_the_options_without_a_connection(
    event_hubs_settings: Settings,
) -> None:
    consumer_opts, producer_opts = kafka_options(event_hubs_settings)
    consumer = AIOKafkaConsumer(**consumer_opts)
    producer = AIOKafkaProducer(**producer_opts)
    try:
        assert consumer._client._security_protocol == "SASL_SSL"
        assert consumer._client._sasl_plain_username == "$ConnectionString"
        assert producer.client._sasl_mechanism == "PLAIN"
        assert producer.client._security_protocol == "SASL_SSL"
    finally:
        await producer.stop()
        await consumer.stop()
