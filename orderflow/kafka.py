"""aiokafka client options from settings: one place that knows PLAINTEXT, SSL and SASL_SSL.

Azure Event Hubs (Kafka endpoint on port 9093):

    ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS=<namespace>.servicebus.windows.net:9093
    ORDERFLOW_KAFKA__SECURITY_PROTOCOL=SASL_SSL
    ORDERFLOW_KAFKA__SASL_USERNAME=$ConnectionString
    ORDERFLOW_KAFKA__SASL_PASSWORD=<the namespace connection string>
    ORDERFLOW_KAFKA__ENABLE_IDEMPOTENCE=true
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from orderflow.settings import KafkaSettings, SecurityProtocol


def common_options(kafka: KafkaSettings, *, bootstrap_servers: str | None = None) -> dict[str, Any]:
    """Options shared by producers, consumers and the admin client."""
    servers = bootstrap_servers or kafka.bootstrap_servers
    if not servers:
        raise ValueError("ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS is not set and no local broker runs")
    options: dict[str, Any] = {
        "bootstrap_servers": servers,
        "client_id": kafka.client_id,
        "security_protocol": kafka.security_protocol.value,
        "request_timeout_ms": kafka.request_timeout_ms,
    }
    if kafka.security_protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL):
        options["ssl_context"] = create_ssl_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        )
    if kafka.security_protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL):
        if kafka.sasl_username is None or kafka.sasl_password is None:
            raise ValueError(
                "ORDERFLOW_KAFKA__SASL_USERNAME and ORDERFLOW_KAFKA__SASL_PASSWORD are required "
                f"with ORDERFLOW_KAFKA__SECURITY_PROTOCOL={kafka.security_protocol.value}"
            )
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    return options


def producer_options(
    kafka: KafkaSettings, *, bootstrap_servers: str | None = None
) -> dict[str, Any]:
    """A durable producer: ``acks=all``; idempotence only where the broker supports it."""
    return {
        **common_options(kafka, bootstrap_servers=bootstrap_servers),
        "acks": "all",
        "enable_idempotence": kafka.enable_idempotence,
        "max_request_size": kafka.max_message_bytes + 64 * 1024,
        "linger_ms": 5,
    }


def consumer_options(
    kafka: KafkaSettings, *, group_id: str, bootstrap_servers: str | None = None
) -> dict[str, Any]:
    """A consumer that commits only explicit offsets, after the side effect."""
    return {
        **common_options(kafka, bootstrap_servers=bootstrap_servers),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        # Fetch a little more than the largest message we accept so oversized ones reach the DLQ.
        "max_partition_fetch_bytes": max(kafka.max_message_bytes * 4, 1_048_576),
        "fetch_max_bytes": max(kafka.max_message_bytes * 8, 52_428_800),
    }
