"""Settings of ``orderflow dev`` alone: where the local services it starts listen, and how
it restarts the application processes.

Only the local stack reads these (``ORDERFLOW_DEV__*``); the processes it starts get the
resulting addresses as their ordinary settings (``ORDERFLOW_DATABASE__URL`` …), so nothing
outside this package knows a local address.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.settings import ENV_DELIMITER, ENV_PREFIX, Port, env_name
from orderflow.devstack.restart import RestartPolicy


class DevStackSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=f"{ENV_PREFIX}DEV{ENV_DELIMITER}", env_file=".env", extra="ignore"
    )

    host: str = "127.0.0.1"
    temporal_port: Port = 7233
    temporal_ui_port: Port = 8233
    broker_port: Port = 9092
    # Embedded PostgreSQL; 5432 is often taken by a machine-wide server.
    postgres_port: Port = 5433
    # Probes and metrics of the worker and the bridge (another free port when one is taken).
    worker_http_port: Port = 8081
    bridge_http_port: Port = 8082
    # Restarting a worker, bridge or API that exited (see orderflow/devstack/restart.py): at
    # most restart_limit restarts within restart_window_s, each after a back-off that doubles
    # from restart_backoff_initial_s up to restart_backoff_max_s.
    restart_limit: Annotated[int, Field(ge=0, le=1000)] = 5
    restart_window_s: Annotated[float, Field(gt=0)] = 60.0
    restart_backoff_initial_s: Annotated[float, Field(ge=0)] = 1.0
    restart_backoff_max_s: Annotated[float, Field(ge=0)] = 30.0

    @model_validator(mode="after")
    def _backoff_order(self) -> DevStackSettings:
        if self.restart_backoff_max_s < self.restart_backoff_initial_s:
            raise ValueError(
                f"{env_name('dev', 'restart_backoff_max_s')} must be at least "
                f"{env_name('dev', 'restart_backoff_initial_s')}"
            )
        return self

    def restart_policy(self) -> RestartPolicy:
        return RestartPolicy(
            limit=self.restart_limit,
            window_s=self.restart_window_s,
            backoff_initial_s=self.restart_backoff_initial_s,
            backoff_max_s=self.restart_backoff_max_s,
        )

    # `orderflow dev --monitoring` (or true here): also a local Prometheus on this port (another
    # free one when it is taken), scraping every component at this interval.
    monitoring: bool = False
    prometheus_port: Port = 9090
    prometheus_scrape_interval: str = "15s"
