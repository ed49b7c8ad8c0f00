"""Settings: nested ``ORDERFLOW_GROUP__FIELD`` variables, named errors, secrets kept secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orderflow.kafka import common_options
from orderflow.settings import SecurityProtocol, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ORDERFLOW_ variable nor .env file of the caller leaks into these tests."""
    for key in list(os.environ):
        if key.startswith("ORDERFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_match_the_design() -> None:
    settings = load_settings()
    assert settings.kafka.bootstrap_servers is None
    assert settings.kafka.partitions == 12
    assert settings.kafka.retention_ms == 604_800_000
    assert settings.temporal.namespace == "default"
    assert settings.temporal.task_queue == "orders"
    assert settings.dev.temporal_port == 7233
    assert settings.dev.temporal_ui_port == 8233
    assert settings.dev.broker_port == 9092
    assert settings.state_dir == Path(".orderflow")


def test_nested_variables_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS", "broker-a:9093,broker-b:9093")
    monkeypatch.setenv("ORDERFLOW_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ORDERFLOW_KAFKA__PARTITIONS", "24")
    monkeypatch.setenv("ORDERFLOW_KAFKA__ENABLE_IDEMPOTENCE", "true")
    monkeypatch.setenv("ORDERFLOW_TEMPORAL__ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("ORDERFLOW_DEV__BROKER_PORT", "19092")
    monkeypatch.setenv("ORDERFLOW_DATABASE__URL", "postgresql://app:pw@db:5432/orders")
    monkeypatch.setenv("ORDERFLOW_STATE_DIR", "/var/lib/orderflow")

    settings = load_settings()

    assert settings.kafka.bootstrap_servers == "broker-a:9093,broker-b:9093"
    assert settings.kafka.security_protocol is SecurityProtocol.SASL_SSL
    assert settings.kafka.partitions == 24
    assert settings.kafka.enable_idempotence is True
    assert settings.temporal.address == "temporal.internal:7233"
    assert settings.dev.broker_port == 19092
    assert settings.state_dir == Path("/var/lib/orderflow")
    assert settings.database.url is not None
    # A libpq URL is switched to the asyncpg driver the application uses.
    assert settings.database.url.get_secret_value() == "postgresql+asyncpg://app:pw@db:5432/orders"


def test_tracing_and_bridge_metrics_are_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert defaults.telemetry.otlp_endpoint is None
    assert defaults.bridge.metrics_port is None
    assert defaults.dev.bridge_metrics_port == 9464

    monkeypatch.setenv("ORDERFLOW_TELEMETRY__OTLP_ENDPOINT", " http://collector:4318 ")
    monkeypatch.setenv("ORDERFLOW_TELEMETRY__SERVICE_NAME", "orders-eu")
    monkeypatch.setenv("ORDERFLOW_BRIDGE__METRICS_PORT", "9100")
    settings = load_settings()
    assert settings.telemetry.otlp_endpoint == "http://collector:4318"
    assert settings.telemetry.service_name == "orders-eu"
    assert settings.bridge.metrics_port == 9100

    monkeypatch.setenv("ORDERFLOW_TELEMETRY__OTLP_ENDPOINT", "")
    assert load_settings().telemetry.otlp_endpoint is None


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ORDERFLOW_KAFKA__PARTITIONS=6\n")
    assert load_settings().kafka.partitions == 6


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ORDERFLOW_KAFKA__PARTITIONS", "many"),
        ("ORDERFLOW_KAFKA__PARTITIONS", "0"),
        ("ORDERFLOW_KAFKA__SECURITY_PROTOCOL", "CARRIER_PIGEON"),
        ("ORDERFLOW_DEV__TEMPORAL_PORT", "70000"),
        ("ORDERFLOW_DATABASE__URL", "mysql://root@db/orders"),
        ("ORDERFLOW_TELEMETRY__LOG_FORMAT", "xml"),
        ("ORDERFLOW_TELEMETRY__OTLP_ENDPOINT", "collector:4318"),
        ("ORDERFLOW_BRIDGE__METRICS_PORT", "0"),
    ],
)
def test_a_bad_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as failure:
        load_settings()
    assert variable in str(failure.value)


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    password = "Endpoint=sb://ns.example/;SharedAccessKey=s3cr3t-key"
    monkeypatch.setenv("ORDERFLOW_KAFKA__SASL_PASSWORD", password)
    monkeypatch.setenv("ORDERFLOW_API__TOKEN", "t0ken-value")
    monkeypatch.setenv("ORDERFLOW_DATABASE__URL", "postgresql://app:db-pa55@db/orders")

    settings = load_settings()

    shown = f"{settings} {settings!r} {settings.model_dump()} {settings.model_dump_json()}"
    for secret in ("s3cr3t-key", "t0ken-value", "db-pa55"):
        assert secret not in shown
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.get_secret_value() == password


def test_sasl_ssl_options_carry_the_secret_only_to_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS", "ns.servicebus.windows.net:9093")
    monkeypatch.setenv("ORDERFLOW_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ORDERFLOW_KAFKA__SASL_USERNAME", "$ConnectionString")
    monkeypatch.setenv("ORDERFLOW_KAFKA__SASL_PASSWORD", "Endpoint=sb://ns/;SharedAccessKey=k")

    options = common_options(load_settings().kafka)

    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "PLAIN"
    assert options["sasl_plain_username"] == "$ConnectionString"
    assert options["sasl_plain_password"] == "Endpoint=sb://ns/;SharedAccessKey=k"
    assert options["ssl_context"] is not None


def test_a_bad_database_url_is_named_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_DATABASE__URL", "mysql://root:hunter2@db/orders")
    with pytest.raises(SettingsError) as failure:
        load_settings()
    assert "ORDERFLOW_DATABASE__URL" in str(failure.value)
    assert "hunter2" not in str(failure.value)
