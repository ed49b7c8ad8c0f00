"""Process settings, read only by entry points (CLI commands, worker, bridge, API start-up).

Environment variables use the prefix ``ORDERFLOW_`` and ``__`` between group and field, e.g.
``ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS``. A ``.env`` file in the working directory works too.
Libraries (``db``, ``activities``, ``workflows``, ``contracts``) never import this module: they
take plain values as arguments.

Nothing here defaults to a local address: a service address that is not set stays ``None``, and
each entry point declares what it needs with :meth:`Settings.require`, which names the missing
variable. Only ``orderflow dev`` starts local services, and it passes their addresses to its
children explicitly.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from codec.keys import parse_key_ring, resolve_active_key_id
from contracts.limits import MAX_MESSAGE_BYTES
from contracts.topics import BRIDGE_CONSUMER_GROUP, ORDER_CREATE_V1, RETENTION_MS
from contracts.workflow_io import TASK_QUEUE
from db.urls import asyncpg_url

ENV_PREFIX = "ORDERFLOW_"
ENV_DELIMITER = "__"

Port = Annotated[int, Field(ge=1, le=65535)]
# Every interface, so a probe or scraper can reach a container; the local stack binds loopback.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - deliberate, see above


class ConfigError(RuntimeError):
    """A setting is missing or invalid. The message is one line naming the variable."""


def env_name(*loc: int | str) -> str:
    """``("kafka", "partitions")`` -> ``ORDERFLOW_KAFKA__PARTITIONS``."""
    parts = [str(part).upper() for part in loc if not isinstance(part, int)]
    return ENV_PREFIX + ENV_DELIMITER.join(parts)


def _host_port(value: str, variable: str) -> str:
    """Checks ``host:port``; raises with the variable's name otherwise."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{variable} must be host:port, got {value!r}")
    return value.strip()


class DatabaseSettings(BaseModel):
    # Any PostgreSQL URL; stored with the asyncpg driver. Required by the worker, API, setup, db.
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
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(asyncpg_url(value.get_secret_value().strip()))


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class Provisioning(StrEnum):
    """What ``orderflow setup`` does with a resource the platform may not let the app create:
    Kafka topics (Event Hubs hubs come from the infrastructure) and Temporal search attributes
    (Temporal Cloud's come from its own tooling)."""

    CREATE = "create"
    VERIFY = "verify"


class KafkaSettings(BaseModel):
    # host:port[,host:port]. Required by the worker, bridge and every Kafka command.
    bootstrap_servers: str | None = None
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    # Azure Event Hubs: username "$ConnectionString", password = the connection string.
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    # On for real Kafka / Event Hubs; the local broker (tansu) has no InitProducerId.
    enable_idempotence: bool = False
    partitions: Annotated[int, Field(ge=1, le=1000)] = 12
    replication_factor: Annotated[int, Field(ge=1, le=10)] = 1
    retention_ms: Annotated[int, Field(ge=-1)] = RETENTION_MS
    topic_provisioning: Provisioning = Provisioning.CREATE
    max_message_bytes: Annotated[int, Field(ge=1024, le=100 * 1024 * 1024)] = MAX_MESSAGE_BYTES
    client_id: str = "orderflow"
    request_timeout_ms: Annotated[int, Field(ge=1000)] = 30_000

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        variable = env_name("kafka", "bootstrap_servers")
        return ",".join(_host_port(server, variable) for server in value.split(","))

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        sasl = self.security_protocol in (
            SecurityProtocol.SASL_PLAINTEXT,
            SecurityProtocol.SASL_SSL,
        )
        if sasl:
            protocol = f"{env_name('kafka', 'security_protocol')}={self.security_protocol.value}"
            for field in ("sasl_username", "sasl_password"):
                if getattr(self, field) is None:
                    raise ValueError(f"{env_name('kafka', field)} is not set ({protocol} needs it)")
            if self.sasl_mechanism is None:
                self.sasl_mechanism = "PLAIN"
        elif self.sasl_mechanism is not None or self.sasl_username is not None:
            raise ValueError(
                f"{env_name('kafka', 'sasl_mechanism')}/{env_name('kafka', 'sasl_username')} "
                f"need {env_name('kafka', 'security_protocol')}=SASL_SSL or SASL_PLAINTEXT"
            )
        return self


class TemporalSettings(BaseModel):
    # host:port. Required by the worker, bridge, API and setup.
    address: str | None = None
    namespace: str = "default"
    task_queue: str = TASK_QUEUE
    tls: bool = False
    # Temporal Cloud API key; implies TLS.
    api_key: SecretStr | None = None
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None
    search_attribute_provisioning: Provisioning = Provisioning.CREATE

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return _host_port(value, env_name("temporal", "address"))

    @model_validator(mode="after")
    def _mtls_pair(self) -> TemporalSettings:
        cert, key = self.tls_client_cert, self.tls_client_key
        if (cert is None) != (key is None):
            missing, given = (
                ("tls_client_key", "tls_client_cert")
                if key is None
                else ("tls_client_cert", "tls_client_key")
            )
            raise ValueError(
                f"{env_name('temporal', missing)} is not set "
                f"({env_name('temporal', given)} needs it)"
            )
        for field in ("tls_client_cert", "tls_client_key"):
            path = getattr(self, field)
            if path is not None and not path.is_file():
                raise ValueError(f"{env_name('temporal', field)}: no such file {str(path)!r}")
        return self


class WorkflowSettings(BaseModel):
    """What the bridge copies into each order's workflow input (workflow code can't read
    settings). Set these on the *bridge* (and any other starter); a running order keeps the
    values it started with."""

    # Retry budget of transient activity failures before the message goes to the DLQ.
    activity_max_attempts: Annotated[int, Field(ge=1, le=1000)] = 10
    activity_initial_interval_s: Annotated[float, Field(gt=0)] = 1.0
    activity_max_interval_s: Annotated[float, Field(gt=0)] = 60.0
    return_window_days: Annotated[int, Field(ge=0, le=3650)] = 30
    # Local activities (the default; see docs/decisions) or regular ones.
    local_activities: bool = True
    # The path to Open in one activity call (the default) or one per step.
    open_in_one_step: bool = True
    # Continue-as-new after this many history events, besides the server's own suggestion.
    continue_as_new_after_events: Annotated[int, Field(ge=10)] | None = None


class WorkerSettings(BaseModel):
    max_concurrent_activities: Annotated[int, Field(ge=1, le=10_000)] = 100
    max_concurrent_workflow_tasks: Annotated[int, Field(ge=1, le=10_000)] = 100
    # Workflows kept in memory between tasks (the SDK's default); past it the least recently
    # used are evicted and replay their history on their next task (sticky cache metrics).
    max_cached_workflows: Annotated[int, Field(ge=0, le=100_000)] = 1000
    graceful_shutdown_s: Annotated[float, Field(ge=0)] = 30.0
    # /health/live, /health/ready and /metrics.
    http_host: str = ALL_INTERFACES
    http_port: Port = 8081
    # Worker Deployment Versioning: the image tag as build ID turns it on (None: unversioned).
    build_id: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    deployment_name: Annotated[str, Field(min_length=1)] = "orderflow"
    # The workflow sandbox (workflows/runner.py): "off" is the design (determinism is checked by
    # replay and a lint in CI); the others exist for benchmarks and the sandboxed replay.
    sandbox: Literal["off", "listed", "default", "passthrough"] = "off"


class BridgeSettings(BaseModel):
    # The topic it consumes (order.create.v1; another one for a benchmark's separate run).
    topic: Annotated[str, Field(min_length=1)] = ORDER_CREATE_V1
    group_id: str = BRIDGE_CONSUMER_GROUP
    max_in_flight: Annotated[int, Field(ge=1, le=10_000)] = 64
    backoff_initial_s: Annotated[float, Field(gt=0)] = 0.5
    backoff_max_s: Annotated[float, Field(gt=0)] = 30.0
    # How often consumer lag and the oldest unprocessed record's age are refreshed.
    lag_interval_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    # /health/live, /health/ready and /metrics.
    http_host: str = ALL_INTERFACES
    http_port: Port = 8082


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: Port = 8000
    # Bearer token for order data (and the codec server); without it auth is off, which
    # ``orderflow api`` allows only on a loopback address.
    token: SecretStr | None = None
    # How often the API reads the top statements from pg_stat_statements for /metrics.
    statement_stats_interval_s: Annotated[float, Field(gt=0)] = 30.0


class CodecSettings(BaseModel):
    """The payload codec (AES-256-GCM) of every Temporal client and worker, and the codec
    server (``orderflow codec-server``) that decodes payloads for the Web UI and CLI."""

    # Off only when explicitly disabled; then payloads travel and rest in plain text.
    enabled: bool = True
    # JSON object {"key-id": "<base64 of 32 random bytes>", ...}: the active key and the old
    # ones that must still decode. Required by every Temporal process while enabled.
    keys: SecretStr | None = None
    # The key new payloads are encrypted with; default: the only key.
    active_key_id: str | None = None
    # Where ``orderflow codec-server`` listens (a non-loopback host needs ORDERFLOW_API__TOKEN).
    host: str = "127.0.0.1"
    port: Port = 8088
    # Browser origins allowed to call it (the Web UI's), comma-separated or a JSON array.
    cors_origins: Annotated[list[str], NoDecode] = []

    @field_validator("keys")
    @classmethod
    def _key_ring(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_key_ring(value.get_secret_value())  # the messages never echo key material
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _active_key(self) -> CodecSettings:
        ring = self.key_ring()
        if ring is not None:
            try:
                self.active_key_id = resolve_active_key_id(ring, self.active_key_id or None)
            except ValueError as exc:
                raise ValueError(f"{env_name('codec', 'active_key_id')}: {exc}") from None
        return self

    def key_ring(self) -> dict[str, bytes] | None:
        """The keys by ID (None when none are configured)."""
        return None if self.keys is None else parse_key_ring(self.keys.get_secret_value())


class TelemetrySettings(BaseModel):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    service_name: Annotated[str, Field(min_length=1)] = "orderflow"
    # On every log line (and the Loki label of the same name): which deployment wrote it.
    environment: Literal["local", "dev", "staging", "prod"] = "local"
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


SettingsT = TypeVar("SettingsT", bound=BaseSettings)

# The requirements an entry point can declare: (group, field) pairs.
Requirement = tuple[str, str]
DATABASE: Requirement = ("database", "url")
KAFKA: Requirement = ("kafka", "bootstrap_servers")
TEMPORAL: Requirement = ("temporal", "address")
# Satisfied by ORDERFLOW_CODEC__ENABLED=false too (see Settings.require).
CODEC: Requirement = ("codec", "keys")


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
    workflow: WorkflowSettings = WorkflowSettings()
    worker: WorkerSettings = WorkerSettings()
    bridge: BridgeSettings = BridgeSettings()
    api: ApiSettings = ApiSettings()
    codec: CodecSettings = CodecSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    def require(self, *requirements: Requirement) -> Settings:
        """Raise :class:`ConfigError` naming every required variable that is not set.

        A group switched off (``enabled=False``, e.g. ``ORDERFLOW_CODEC__ENABLED=false``)
        requires nothing.
        """
        missing = [
            env_name(group, field)
            for group, field in requirements
            if getattr(getattr(self, group), "enabled", True)
            and getattr(getattr(self, group), field) is None
        ]
        if missing:
            raise ConfigError("; ".join(f"{name} is not set" for name in missing))
        return self


def _one_line(error: ValidationError) -> str:
    """Pydantic's errors as one line, each naming its variable."""
    problems = []
    for err in error.errors():
        message = str(err["msg"]).removeprefix("Value error, ")
        variable = env_name(*err["loc"])
        # Cross-field checks name their variables themselves.
        problems.append(message if ENV_PREFIX in message else f"{variable}: {message}")
    return "; ".join(problems)


def read_settings(cls: type[SettingsT]) -> SettingsT:
    """``cls()`` from the environment, with any invalid value as one :class:`ConfigError` line."""
    try:
        return cls()
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    except ValueError as exc:  # e.g. a nested group given as bad JSON
        raise ConfigError(str(exc).splitlines()[0]) from None


def load_settings(*requirements: Requirement) -> Settings:
    """Read the settings once at start-up; raise :class:`ConfigError` (one line) when one is
    invalid or a required one is missing."""
    return read_settings(Settings).require(*requirements)
