"""``orderflow dev``: PostgreSQL, Temporal, the broker and the topics, then the app components.

Each service is skipped when its address is configured (``ORDERFLOW_DATABASE__URL``,
``ORDERFLOW_TEMPORAL__ADDRESS``, ``ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS``). Everything we start
lives under the state folder (data, logs) and is stopped by ``stop()`` in reverse order.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orderflow.devstack.broker import start_broker
from orderflow.devstack.components import available_components, component_process
from orderflow.devstack.net import free_port, port_open
from orderflow.devstack.postgres import ensure_database, start_embedded_postgres
from orderflow.devstack.process import ManagedProcess
from orderflow.devstack.temporal import start_temporal
from orderflow.migrate import head_revision, upgrade
from orderflow.settings import Settings

DATABASE_NAME = "orderflow"


@dataclass
class Endpoints:
    """Where each service is; ``database_url`` uses the asyncpg driver and may hold a secret."""

    state_dir: Path
    database_url: str = ""
    temporal_address: str = ""
    temporal_ui_url: str | None = None
    bootstrap_servers: str = ""
    bridge_metrics_url: str | None = None
    api_url: str | None = None
    started: dict[str, str] = field(default_factory=dict)

    def child_env(self) -> dict[str, str]:
        """The environment of app components: the caller's, pointed at these services."""
        import orderflow

        source_root = str(Path(orderflow.__file__).resolve().parent.parent)
        python_path = os.pathsep.join(p for p in (source_root, os.environ.get("PYTHONPATH")) if p)
        return {
            **os.environ,
            "PYTHONPATH": python_path,
            "ORDERFLOW_STATE_DIR": str(self.state_dir),
            "ORDERFLOW_DATABASE__URL": self.database_url,
            "ORDERFLOW_TEMPORAL__ADDRESS": self.temporal_address,
            "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap_servers,
        }


def safe_url(url: str) -> str:
    """The libpq form of a database URL (what psql takes), password masked, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=True)


class LocalStack:
    """Starts the services in dependency order; ``stop()`` undoes whatever was started."""

    def __init__(self, settings: Settings, *, echo: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.echo = echo
        self.state_dir = settings.state_dir.expanduser().resolve()
        self.log_dir = self.state_dir / "logs"
        self.processes: list[ManagedProcess] = []
        self.endpoints = Endpoints(state_dir=self.state_dir)

    def start(self) -> Endpoints:
        """Bring every service up, or raise ``ServiceError`` (the caller then calls ``stop``)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._start_database()
        self._start_temporal()
        self._start_broker()
        self._start_components()
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
            dev = self.settings.dev
            server = start_embedded_postgres(
                self.state_dir / "postgres",
                host=dev.host,
                port=dev.postgres_port,
                log_path=self.log_dir / "postgres.log",
            )
            self.processes.append(server.process)
            asyncio.run(ensure_database(server.admin_url, DATABASE_NAME))
            url = server.url(DATABASE_NAME).replace("postgresql://", "postgresql+asyncpg://", 1)
            self.endpoints.started["postgres"] = f"embedded, data in {server.data_dir}"
        self.endpoints.database_url = url
        upgrade(url, "head")
        self.endpoints.started["migrations"] = f"at head ({head_revision()})"

    def _start_temporal(self) -> None:
        configured = self.settings.temporal.address
        if configured:
            self.endpoints.temporal_address = configured
            self.endpoints.started["temporal"] = "configured"
            return
        dev = self.settings.dev
        server = start_temporal(
            host=dev.host,
            port=dev.temporal_port,
            ui_port=dev.temporal_ui_port,
            db_file=self.state_dir / "temporal.db",
            log_path=self.log_dir / "temporal.log",
        )
        self.processes.append(server.process)
        self.endpoints.temporal_address = server.address
        self.endpoints.temporal_ui_url = server.ui_url
        self.endpoints.started["temporal"] = f"dev server, history in {self.state_dir}/temporal.db"

    def _start_broker(self) -> None:
        from orderflow.kafka import common_options
        from orderflow.topics import create_topics

        kafka = self.settings.kafka
        if kafka.bootstrap_servers:
            servers = kafka.bootstrap_servers
            self.endpoints.started["broker"] = "configured"
        else:
            dev = self.settings.dev
            broker = start_broker(
                host=dev.host, port=dev.broker_port, log_path=self.log_dir / "broker.log"
            )
            self.processes.append(broker.process)
            servers = broker.bootstrap_servers
            self.endpoints.started["broker"] = "tansu, in memory (topics are re-created)"
        self.endpoints.bootstrap_servers = servers
        asyncio.run(
            create_topics(
                common_options(kafka, bootstrap_servers=servers),
                partitions=kafka.partitions,
                replication_factor=kafka.replication_factor,
                retention_ms=kafka.retention_ms,
            )
        )

    def _bridge_metrics_port(self) -> int:
        """``ORDERFLOW_BRIDGE__METRICS_PORT`` if set, else the dev port, else any free one."""
        if self.settings.bridge.metrics_port is not None:
            return self.settings.bridge.metrics_port
        dev = self.settings.dev
        if not port_open(dev.host, dev.bridge_metrics_port):
            return dev.bridge_metrics_port
        return free_port(dev.host)

    def _api_port(self) -> int:
        """``ORDERFLOW_API__PORT`` if set, else 8000, else (taken) any free one."""
        api = self.settings.api
        if "port" in api.model_fields_set or not port_open(api.host, api.port):
            return api.port
        return free_port(api.host)

    def _start_components(self) -> None:
        env = self.endpoints.child_env()
        for name in available_components():
            child_env = env
            if name == "api":
                host, port = self.settings.api.host, self._api_port()
                child_env = {**env, "ORDERFLOW_API__HOST": host, "ORDERFLOW_API__PORT": str(port)}
                self.endpoints.api_url = f"http://{host}:{port}"
            if name == "bridge":
                port = self._bridge_metrics_port()
                child_env = {
                    **env,
                    "ORDERFLOW_BRIDGE__METRICS_PORT": str(port),
                    "ORDERFLOW_BRIDGE__METRICS_HOST": self.settings.dev.host,
                }
                self.endpoints.bridge_metrics_url = (
                    f"http://{self.settings.dev.host}:{port}/metrics"
                )
            process = component_process(name, env=child_env, log_dir=self.log_dir)
            process.start()
            self.processes.append(process)
            self.endpoints.started[name] = f"pid {process.pid}, log {process.log_path}"
