"""Find the broker for one-shot commands (``topics``, ``produce``): configured, else local."""

from __future__ import annotations

from orderflow.devstack.net import port_open
from orderflow.settings import Settings


class NoBrokerError(RuntimeError):
    """Neither a configured broker nor a running local stack."""


def bootstrap_servers(settings: Settings) -> str:
    """``ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS`` if set, else the local stack's broker if it is up."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    host, port = settings.dev.host, settings.dev.broker_port
    if port_open(host, port):
        return f"{host}:{port}"
    raise NoBrokerError(
        f"ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS is not set and no local broker answers on "
        f"{host}:{port} (start one with `orderflow dev`)"
    )
