"""``orderflow dev``: PostgreSQL, Temporal, the broker and the topics, then the app components,
and with ``--monitoring`` a Prometheus scraping them (:mod:`orderflow.devstack.prometheus`).

Each service is skipped when its address is configured (``ORDERFLOW_DATABASE__URL``,
``ORDERFLOW_TEMPORAL__ADDRESS``, ``ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS``). Everything we start
lives under the state folder (data, logs) and is stopped by ``stop()`` in reverse order.
The embedded PostgreSQL loads ``pg_stat_statements`` (statement times for ``orderflow db stats``
and the API's metrics).
"""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from config.settings import Settings
from db.urls import asyncpg_url, libpq_url
from orderflow.devstack.broker import start_broker
from orderflow.devstack.codec_key import local_key_ring
from orderflow.devstack.components import APP_COMPONENTS, component_process
from orderflow.devstack.net import free_port, port_open
from orderflow.devstack.postgres import ensure_database, ensure_extension, start_embedded_postgres
from orderflow.devstack.process import ManagedProcess, ServiceError
from orderflow.devstack.prometheus import (
    NOT_INSTALLED,
    PrometheusPaths,
    find_prometheus,
    start_prometheus,
    write_target,
)
from orderflow.devstack.settings import DevStackSettings
from orderflow.devstack.temporal import start_temporal

if TYPE_CHECKING:
    from workers.setup_job import SetupReport

DATABASE_NAME = "orderflow"


@dataclass
class Endpoints:
    """Where each service is; ``database_url`` uses the asyncpg driver and may hold a secret."""

    state_dir: Path
    database_url: str = ""
    temporal_address: str = ""
    temporal_ui_url: str | None = None
    bootstrap_servers: str = ""
    worker_http_url: str | None = None
    bridge_http_url: str | None = None
    api_url: str | None = None
    # The payload key ring (ORDERFLOW_CODEC__KEYS; empty when the codec is disabled) and the
    # codec server the Web UI decodes through.
    codec_keys: str = ""
    codec_url: str | None = None
    started: dict[str, str] = field(default_factory=dict)

    def service_env(self) -> dict[str, str]:
        """The settings that point a process at these services (what the children get, and
        what ``<state>/dev.env`` holds for a second shell)."""
        return {
            "ORDERFLOW_STATE_DIR": str(self.state_dir),
            "ORDERFLOW_DATABASE__URL": self.database_url,
            "ORDERFLOW_TEMPORAL__ADDRESS": self.temporal_address,
            "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap_servers,
            **({"ORDERFLOW_CODEC__KEYS": self.codec_keys} if self.codec_keys else {}),
        }

    def child_env(self) -> dict[str, str]:
        """The environment of app components: the caller's, pointed at these services."""
        import orderflow

        source_root = str(Path(orderflow.__file__).resolve().parent.parent)
        python_path = os.pathsep.join(p for p in (source_root, os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "PYTHONPATH": python_path, **self.service_env()}

    def write_env_file(self, path: Path) -> None:
        """``export`` lines for ``source <state>/dev.env`` (owner-only: it may hold a password)."""
        lines = [
            f"export {name}={shlex.quote(value)}\n" for name, value in self.service_env().items()
        ]
        path.write_text("".join(lines))
        path.chmod(0o600)


def safe_url(url: str) -> str:
    """The libpq form of a database URL (what psql takes), password masked, for printing."""
    return libpq_url(url)


class LocalStack:
    """Starts the services in dependency order; ``stop()`` undoes whatever was started."""

    def __init__(
        self,
        settings: Settings,
        dev: DevStackSettings | None = None,
        *,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.dev = dev or DevStackSettings()
        self.echo = echo
        self.state_dir = settings.state_dir.expanduser().resolve()
        self.log_dir = self.state_dir / "logs"
        self.processes: list[ManagedProcess] = []
        self.endpoints = Endpoints(state_dir=self.state_dir)
        self.prometheus = PrometheusPaths(self.state_dir / "prometheus")

    def start(self) -> Endpoints:
        """Bring every service up, or raise ``ServiceError`` (the caller then calls ``stop``)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._start_database()
        self._prepare_codec()
        self._start_temporal()
        self._start_broker()
        self._provision()
        self._start_components()
        if self.dev.monitoring:
            self._start_prometheus()
        return self.endpoints

    def stop(self) -> None:
        """Stop app components first, then the services they use. Idempotent."""
        while self.processes:
            self.processes.pop().stop()

    def _start_database(self) -> None:
        configured = self.settings.database.url
        if configured is not None:
            url = configured.get_secret_value()
            self.endpoints.started["postgres"] = "configured"
        else:
            dev = self.dev
            server = start_embedded_postgres(
                self.state_dir / "postgres",
                host=dev.host,
                port=dev.postgres_port,
                log_path=self.log_dir / "postgres.log",
            )
            self.processes.append(server.process)
            asyncio.run(ensure_database(server.admin_url, DATABASE_NAME))
            asyncio.run(ensure_extension(server.url(DATABASE_NAME), "pg_stat_statements"))
            url = asyncpg_url(server.url(DATABASE_NAME))
            self.endpoints.started["postgres"] = f"embedded, data in {server.data_dir}"
        self.endpoints.database_url = url

    def _start_temporal(self) -> None:
        configured = self.settings.temporal.address
        if configured:
            self.endpoints.temporal_address = configured
            self.endpoints.started["temporal"] = "configured"
            return
        dev = self.dev
        server = start_temporal(
            host=dev.host,
            port=dev.temporal_port,
            ui_port=dev.temporal_ui_port,
            db_file=self.state_dir / "temporal.db",
            log_path=self.log_dir / "temporal.log",
            ui_codec_endpoint=self.endpoints.codec_url,
        )
        self.processes.append(server.process)
        self.endpoints.temporal_address = server.address
        self.endpoints.temporal_ui_url = server.ui_url
        self.endpoints.started["temporal"] = f"dev server, history in {self.state_dir}/temporal.db"

    def _prepare_codec(self) -> None:
        """The key ring (configured, else the state folder's) and the codec server's URL, which
        the Web UI must know when Temporal starts. Nothing when the codec is disabled."""
        codec = self.settings.codec
        if not codec.enabled:
            return
        if codec.keys is not None:
            self.endpoints.codec_keys = codec.keys.get_secret_value()
            where = "configured"
        else:
            self.endpoints.codec_keys, path = local_key_ring(self.state_dir)
            where = f"in {path}"
        port = codec.port if "port" in codec.model_fields_set else self._http_port(codec.port)
        self.endpoints.codec_url = f"http://{self.dev.host}:{port}"
        self.endpoints.started["payload key"] = f"AES-256-GCM, {where}"

    def _start_codec_server(self, env: dict[str, str]) -> None:
        """The Web UI's remote codec, on loopback without a token: the browser calls it directly
        and cannot send ORDERFLOW_API__TOKEN."""
        if self.endpoints.codec_url is None:
            return
        port = self.endpoints.codec_url.rpartition(":")[2]
        ui = [f"http://{host}:{self.dev.temporal_ui_port}" for host in (self.dev.host, "localhost")]
        env = {name: value for name, value in env.items() if name != "ORDERFLOW_API__TOKEN"}
        process = component_process(
            "codec-server",
            env={
                **env,
                "ORDERFLOW_CODEC__HOST": self.dev.host,
                "ORDERFLOW_CODEC__PORT": port,
                "ORDERFLOW_CODEC__CORS_ORIGINS": ",".join(ui),
            },
            log_dir=self.log_dir,
        )
        process.start()
        self.processes.append(process)
        self.endpoints.started["codec-server"] = f"{self.endpoints.codec_url}, pid {process.pid}"

    def _start_broker(self) -> None:
        kafka = self.settings.kafka
        if kafka.bootstrap_servers:
            servers = kafka.bootstrap_servers
            self.endpoints.started["broker"] = "configured"
        else:
            dev = self.dev
            broker = start_broker(
                host=dev.host, port=dev.broker_port, log_path=self.log_dir / "broker.log"
            )
            self.processes.append(broker.process)
            servers = broker.bootstrap_servers
            self.endpoints.started["broker"] = "tansu, in memory (topics are re-created)"
        self.endpoints.bootstrap_servers = servers

    def service_settings(self) -> Settings:
        """The stack's settings pointed at the services it runs (what its children get)."""
        settings, endpoints = self.settings, self.endpoints
        return settings.model_copy(
            update={
                "database": settings.database.model_copy(
                    update={"url": SecretStr(endpoints.database_url)}
                ),
                "kafka": settings.kafka.model_copy(
                    update={"bootstrap_servers": endpoints.bootstrap_servers}
                ),
                "temporal": settings.temporal.model_copy(
                    update={"address": endpoints.temporal_address}
                ),
                "codec": settings.codec.model_copy(
                    update={
                        "keys": SecretStr(endpoints.codec_keys) if endpoints.codec_keys else None
                    }
                ),
            }
        )

    def _provision(self) -> None:
        """``orderflow setup`` against the stack: migrations, topics, search attributes."""
        from config.temporal import temporal_client
        from workers.setup_job import run_setup

        settings = self.service_settings()

        async def provision() -> SetupReport:
            client = await temporal_client(settings.temporal, settings.codec)
            return await run_setup(settings, client, echo=lambda _: None)

        report = asyncio.run(provision())
        if not report.ok:
            raise ServiceError("setup: " + "; ".join(report.missing))
        self.endpoints.started["setup"] = "; ".join(report.done)

    def _http_port(self, preferred: int) -> int:
        """``preferred`` when free, else any free port (the stack prints which)."""
        host = self.dev.host
        return preferred if not port_open(host, preferred) else free_port(host)

    def _api_port(self) -> int:
        """``ORDERFLOW_API__PORT`` if set, else 8000, else (taken) any free one."""
        api = self.settings.api
        if "port" in api.model_fields_set or not port_open(api.host, api.port):
            return api.port
        return free_port(api.host)

    def _component_env(self, name: str, env: dict[str, str]) -> dict[str, str]:
        """Each component's own listening address, on loopback."""
        host = self.dev.host
        if name == "api":
            host, port = self.settings.api.host, self._api_port()
            self.endpoints.api_url = f"http://{host}:{port}"
            self._scrape(name, host, port)
            return {**env, "ORDERFLOW_API__HOST": host, "ORDERFLOW_API__PORT": str(port)}
        preferred = {"worker": self.dev.worker_http_port, "bridge": self.dev.bridge_http_port}
        port = self._http_port(preferred[name])
        setattr(self.endpoints, f"{name}_http_url", f"http://{host}:{port}")
        self._scrape(name, host, port)
        group = f"ORDERFLOW_{name.upper()}__"
        return {**env, f"{group}HTTP_HOST": host, f"{group}HTTP_PORT": str(port)}

    def _scrape(self, name: str, host: str, port: int) -> None:
        """Tell Prometheus where the component's /metrics is (its file_sd target file)."""
        if self.dev.monitoring:
            write_target(self.prometheus, name, f"{host}:{port}")

    def _start_prometheus(self) -> None:
        binary = find_prometheus()
        if binary is None:
            self.echo(f"orderflow dev: --monitoring: {NOT_INSTALLED}")
            self.endpoints.started["prometheus"] = f"skipped: {NOT_INSTALLED}"
            return
        process, url = start_prometheus(
            binary,
            self.prometheus,
            host=self.dev.host,
            port=self._http_port(self.dev.prometheus_port),
            scrape_interval=self.dev.prometheus_scrape_interval,
            log_path=self.log_dir / "prometheus.log",
        )
        self.processes.append(process)
        self.endpoints.started["prometheus"] = (
            f"{url} (alert rules loaded; targets in {self.prometheus.targets})"
        )

    def _start_components(self) -> None:
        env = self.endpoints.child_env()
        self.endpoints.write_env_file(self.state_dir / "dev.env")
        self._start_codec_server(env)
        for name in APP_COMPONENTS:
            process = component_process(
                name, env=self._component_env(name, env), log_dir=self.log_dir
            )
            process.start()
            self.processes.append(process)
            self.endpoints.started[name] = f"pid {process.pid}, log {process.log_path}"
