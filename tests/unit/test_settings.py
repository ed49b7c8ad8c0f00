"""Settings: nested ``ORDERFLOW_GROUP__FIELD`` variables, named errors, secrets kept secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.kafka import common_options
from config.settings import (
    DATABASE,
    KAFKA,
    TEMPORAL,
    ConfigError,
    SecurityProtocol,
    load_settings,
    read_settings,
)
from orderflow.devstack.settings import DevStackSettings


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
    # No production setting defaults to a local address; only the dev stack knows them.
    assert settings.temporal.address is None
    assert settings.database.url is None
    dev = read_settings(DevStackSettings)
    assert (dev.temporal_port, dev.temporal_ui_port, dev.broker_port) == (7233, 8233, 9092)
    assert settings.state_dir == Path(".orderflow")


def test_nested_variables_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS", "broker-a:9093,broker-b:9093")
    monkeypatch.setenv("ORDERFLOW_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ORDERFLOW_KAFKA__SASL_USERNAME", "$ConnectionString")
    monkeypatch.setenv("ORDERFLOW_KAFKA__SASL_PASSWORD", "Endpoint=sb://x/;SharedAccessKey=k")
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
    assert read_settings(DevStackSettings).broker_port == 19092
    assert settings.state_dir == Path("/var/lib/orderflow")
    assert settings.database.url is not None
    # A libpq URL is switched to the asyncpg driver the application uses.
    assert settings.database.url.get_secret_value() == "postgresql+asyncpg://app:pw@db:5432/orders"


def test_tracing_is_off_unless_set_and_probe_ports_are_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = load_settings()
    assert defaults.telemetry.otlp_endpoint is None
    assert (defaults.worker.http_port, defaults.bridge.http_port) == (8081, 8082)

    monkeypatch.setenv("ORDERFLOW_TELEMETRY__OTLP_ENDPOINT", " http://collector:4318 ")
    monkeypatch.setenv("ORDERFLOW_TELEMETRY__SERVICE_NAME", "orders-eu")
    monkeypatch.setenv("ORDERFLOW_BRIDGE__HTTP_PORT", "9100")
    settings = load_settings()
    assert settings.telemetry.otlp_endpoint == "http://collector:4318"
    assert settings.telemetry.service_name == "orders-eu"
    assert settings.bridge.http_port == 9100

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
        ("ORDERFLOW_TEMPORAL__ADDRESS", "temporal.internal"),
        ("ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS", "broker-a:9093,broker-b"),
        ("ORDERFLOW_DATABASE__URL", "not a url"),
        ("ORDERFLOW_DATABASE__URL", "mysql://root@db/orders"),
        ("ORDERFLOW_TELEMETRY__LOG_FORMAT", "xml"),
        ("ORDERFLOW_TELEMETRY__OTLP_ENDPOINT", "collector:4318"),
        ("ORDERFLOW_BRIDGE__HTTP_PORT", "0"),
        ("ORDERFLOW_WORKFLOW__ACTIVITY_MAX_ATTEMPTS", "0"),
    ],
)
def test_a_bad_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as failure:
        load_settings()
    assert variable in str(failure.value)
    assert "\n" not in str(failure.value)


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    password = "Endpoint=sb://ns.example/;SharedAccessKey=s3cr3t-key"
    monkeypatch.setenv("ORDERFLOW_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ORDERFLOW_KAFKA__SASL_USERNAME", "$ConnectionString")
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
    with pytest.raises(ConfigError) as failure:
        load_settings()
    assert "ORDERFLOW_DATABASE__URL" in str(failure.value)
    assert "hunter2" not in str(failure.value)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        # A SASL protocol without its credentials.
        ({"ORDERFLOW_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"}, "ORDERFLOW_KAFKA__SASL_USERNAME"),
        (
            {
                "ORDERFLOW_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
                "ORDERFLOW_KAFKA__SASL_USERNAME": "$ConnectionString",
            },
            "ORDERFLOW_KAFKA__SASL_PASSWORD",
        ),
        # A SASL mechanism without a SASL protocol.
        ({"ORDERFLOW_KAFKA__SASL_MECHANISM": "PLAIN"}, "ORDERFLOW_KAFKA__SECURITY_PROTOCOL"),
        # A client certificate without its key, and the other way round.
        ({"ORDERFLOW_TEMPORAL__TLS_CLIENT_CERT": "cert.pem"}, "ORDERFLOW_TEMPORAL__TLS_CLIENT_KEY"),
        ({"ORDERFLOW_TEMPORAL__TLS_CLIENT_KEY": "key.pem"}, "ORDERFLOW_TEMPORAL__TLS_CLIENT_CERT"),
    ],
)
def test_an_incomplete_combination_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], named: str
) -> None:
    (tmp_path / "cert.pem").write_text("x")
    (tmp_path / "key.pem").write_text("x")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as failure:
        load_settings()
    assert named in str(failure.value)
    assert "\n" not in str(failure.value)


def test_required_settings_are_named_when_missing() -> None:
    with pytest.raises(ConfigError) as failure:
        load_settings(DATABASE, KAFKA, TEMPORAL)
    assert str(failure.value) == (
        "ORDERFLOW_DATABASE__URL is not set; ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS is not set; "
        "ORDERFLOW_TEMPORAL__ADDRESS is not set"
    )


def test_workflow_options_have_their_own_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.workflow import workflow_options

    monkeypatch.setenv("ORDERFLOW_WORKFLOW__ACTIVITY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("ORDERFLOW_WORKFLOW__LOCAL_ACTIVITIES", "false")
    monkeypatch.setenv("ORDERFLOW_WORKFLOW__CONTINUE_AS_NEW_AFTER_EVENTS", "500")
    options = workflow_options(load_settings().workflow)
    assert options.activity_max_attempts == 3
    assert options.local_activities is False
    assert options.continue_as_new_after_events == 500
