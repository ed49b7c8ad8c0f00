"""Process settings, read only by entry points (CLI, worker, bridge, API start-up).

Environment variables use the prefix ``ORDERFLOW_`` and ``__`` between group and field, e.g.
``ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS``. A ``.env`` file in the working directory works too.
Libraries (``db``, ``activities``, ``workflows``, ``contracts``) never import this module: they
take plain values as arguments.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.topics import BRIDGE_CONSUMER_GROUP, RETENTION_MS
from contracts.workflow_io import TASK_QUEUE

ENV_PREFIX = "ORDERFLOW_"
ENV_DELIMITER = "__"


class DatabaseSettings(BaseModel):
    # None means "start the embedded PostgreSQL of the local stack".
    url: SecretStr | None = None
    pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    max_overflow: Annotated[int, Field(ge=0, le=200)] = 10
    pool_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    # Through PgBouncer in transaction mode (Azure's built-in one included) server-side
    # prepared statements cannot be cached; off by default so it is always safe.
    statement_cache: bool = False
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value()
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+asyncpg://" + url.split("://", 1)[1]
        if not url.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a PostgreSQL URL (postgresql:// or postgresql+asyncpg://)")
        return SecretStr(url)


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class KafkaSettings(BaseModel):
    # None means "start the local broker of the dev stack".
    bootstrap_servers: str | None = None
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    # Azure Event Hubs: username "$ConnectionString", password = the connection string.
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    # On for real Kafka / Event Hubs; the local broker (tansu) has no InitProducerId.
    enable_idempotence: bool = False
    partitions: Annotated[int, Field(ge=1, le=1000)] = 12
    replication_factor: Annotated[int, Field(ge=1, le=10)] = 1
    retention_ms: Annotated[int, Field(ge=-1)] = RETENTION_MS
    max_message_bytes: Annotated[int, Field(ge=1024, le=100 * 1024 * 1024)] = 1_048_576
    client_id: str = "orderflow"
    request_timeout_ms: Annotated[int, Field(ge=1000)] = 30_000

    @field_validator("bootstrap_servers")
    @classmethod
    def _non_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        return value


class TemporalSettings(BaseModel):
    # None means "start the local Temporal dev server".
    address: str | None = None
    namespace: str = "default"
    task_queue: str = TASK_QUEUE
    tls: bool = False
    # Temporal Cloud API key; implies TLS.
    api_key: SecretStr | None = None
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None


class WorkerSettings(BaseModel):
    max_concurrent_activities: Annotated[int, Field(ge=1, le=10_000)] = 100
    max_concurrent_workflow_tasks: Annotated[int, Field(ge=1, le=10_000)] = 100
    # Retry budget of transient activity failures before the message goes to the DLQ.
    activity_max_attempts: Annotated[int, Field(ge=1, le=1000)] = 10
    activity_initial_interval_s: Annotated[float, Field(gt=0)] = 1.0
    activity_max_interval_s: Annotated[float, Field(gt=0)] = 60.0
    return_window_days: Annotated[int, Field(ge=0, le=3650)] = 30
    graceful_shutdown_s: Annotated[float, Field(ge=0)] = 30.0


class BridgeSettings(BaseModel):
    group_id: str = BRIDGE_CONSUMER_GROUP
    max_in_flight: Annotated[int, Field(ge=1, le=10_000)] = 64
    backoff_initial_s: Annotated[float, Field(gt=0)] = 0.5
    backoff_max_s: Annotated[float, Field(gt=0)] = 30.0
    # Prometheus metrics port of ``orderflow bridge`` when ``--metrics-port`` is not given;
    # None = no metrics server.
    metrics_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    # All interfaces so a scraper can reach a container; the local stack binds loopback only.
    metrics_host: str = "0.0.0.0"  # noqa: S104 - deliberate, see above


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    # Bearer token for order data; None disables auth only for the local stack.
    token: SecretStr | None = None


class TelemetrySettings(BaseModel):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    service_name: Annotated[str, Field(min_length=1)] = "orderflow"
    # OTLP/HTTP collector, e.g. http://127.0.0.1:4318; None = tracing off.
    otlp_endpoint: str | None = None

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (OTLP over HTTP, port 4318)")
        return value


class DevStackSettings(BaseModel):
    temporal_port: Annotated[int, Field(ge=1, le=65535)] = 7233
    temporal_ui_port: Annotated[int, Field(ge=1, le=65535)] = 8233
    broker_port: Annotated[int, Field(ge=1, le=65535)] = 9092
    # Embedded PostgreSQL of the local stack; 5432 is often taken by a machine-wide server.
    postgres_port: Annotated[int, Field(ge=1, le=65535)] = 5433
    # The bridge's Prometheus metrics; another free port when this one is taken.
    bridge_metrics_port: Annotated[int, Field(ge=1, le=65535)] = 9464
    host: str = "127.0.0.1"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        env_file=".env",
        extra="ignore",
    )

    state_dir: Path = Path(".orderflow")
    database: DatabaseSettings = DatabaseSettings()
    kafka: KafkaSettings = KafkaSettings()
    temporal: TemporalSettings = TemporalSettings()
    worker: WorkerSettings = WorkerSettings()
    bridge: BridgeSettings = BridgeSettings()
    api: ApiSettings = ApiSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    dev: DevStackSettings = DevStackSettings()


class SettingsError(RuntimeError):
    """A setting is invalid; the message names the environment variable."""


def env_name(loc: tuple[int | str, ...]) -> str:
    """``("kafka", "partitions")`` -> ``ORDERFLOW_KAFKA__PARTITIONS``."""
    parts = [str(part).upper() for part in loc if not isinstance(part, int)]
    return ENV_PREFIX + ENV_DELIMITER.join(parts)


def load_settings() -> Settings:
    """Read the settings once at start-up, turning validation errors into named variables."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [f"{env_name(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from exc
