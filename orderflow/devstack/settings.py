"""Settings of ``orderflow dev`` alone: where the local services it starts listen.

Only the local stack reads these (``ORDERFLOW_DEV__*``); the processes it starts get the
resulting addresses as their ordinary settings (``ORDERFLOW_DATABASE__URL`` …), so nothing
outside this package knows a local address.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from config.settings import ENV_DELIMITER, ENV_PREFIX, Port


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
    # `orderflow dev --monitoring` (or true here): also a local Prometheus on this port (another
    # free one when it is taken), scraping every component at this interval.
    monitoring: bool = False
    prometheus_port: Port = 9090
    prometheus_scrape_interval: str = "15s"
