"""aiokafka client options from settings: one place that knows PLAINTEXT, SSL and SASL_SSL.

Azure Event Hubs (Kafka endpoint on port 9093):

    ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS=<namespace>.servicebus.windows.net:9093
    ORDERFLOW_KAFKA__SECURITY_PROTOCOL=SASL_SSL
    ORDERFLOW_KAFKA__SASL_USERNAME=$ConnectionString
    ORDERFLOW_KAFKA__SASL_PASSWORD=<the namespace connection string>
    ORDERFLOW_KAFKA__ENABLE_IDEMPOTENCE=true
    ORDERFLOW_KAFKA__TOPIC_PROVISIONING=verify
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from config.settings import KAFKA, ConfigError, KafkaSettings, SecurityProtocol, env_name

# Room for the record's key, headers and batch framing above the value limit.
_RECORD_OVERHEAD_BYTES = 64 * 1024


def kafka_bootstrap(kafka: KafkaSettings) -> str:
    """``ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS``; :class:`ConfigError` naming it when unset."""
    if not kafka.bootstrap_servers:
        raise ConfigError(f"{env_name(*KAFKA)} is not set")
    return kafka.bootstrap_servers


def common_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Options shared by producers, consumers and the admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka_bootstrap(kafka),
        "client_id": kafka.client_id,
        "security_protocol": kafka.security_protocol.value,
        "request_timeout_ms": kafka.request_timeout_ms,
    }
    if kafka.security_protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL):
        options["ssl_context"] = create_ssl_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        )
    if kafka.sasl_username is not None and kafka.sasl_password is not None:
        # Settings validation guarantees both with a SASL protocol, and neither without.
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    return options


def fetch_limit_bytes(kafka: KafkaSettings) -> int:
    """Per-partition fetch size: a little more than the largest message we accept, so an
    oversized one is still fetched and can reach the DLQ with its original bytes."""
    return max(kafka.max_message_bytes * 4, 1_048_576)


def producer_options(kafka: KafkaSettings) -> dict[str, Any]:
    """A durable producer (``acks=all``; idempotence only where the broker supports it) that can
    write back anything the consumer fetches (DLQ copies keep the original bytes)."""
    return {
        **common_options(kafka),
        "acks": "all",
        "enable_idempotence": kafka.enable_idempotence,
        "max_request_size": fetch_limit_bytes(kafka) + _RECORD_OVERHEAD_BYTES,
        "linger_ms": 5,
    }


def consumer_options(kafka: KafkaSettings, *, group_id: str) -> dict[str, Any]:
    """A consumer that commits only explicit offsets, after the side effect."""
    return {
        **common_options(kafka),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_partition_fetch_bytes": fetch_limit_bytes(kafka),
        "fetch_max_bytes": max(kafka.max_message_bytes * 8, 52_428_800),
    }
