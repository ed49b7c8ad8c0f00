"""The image's HEALTHCHECK: probe ``/health/live`` of the orderflow command the container runs.

One image runs every process, and Docker has one HEALTHCHECK per image, so the check works out
the port itself: it finds the ``orderflow <command>`` process in ``/proc`` (PID 1 normally; any
process when the container runs under an init such as ``docker run --init``) and reads that
command's port setting, falling back to the shared defaults. Commands without an HTTP server
(``setup``, the tools) are reported healthy: a job has nothing to probe, and its exit code is its
health. ``ORDERFLOW_HEALTHCHECK_PORT`` overrides the port for anything else.

Standard library only, so it runs with the image's interpreter and nothing else. Azure Container
Apps ignores HEALTHCHECK (it uses the probes in the app's template); this is for Docker/Compose.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

# command -> (port setting, default port); the shared decisions in DESIGN.md.
COMMAND_PORTS: dict[str, tuple[str, int]] = {
    "api": ("ORDERFLOW_API__PORT", 8000),
    "worker": ("ORDERFLOW_WORKER__HTTP_PORT", 8081),
    "bridge": ("ORDERFLOW_BRIDGE__HTTP_PORT", 8082),
    "codec-server": ("ORDERFLOW_CODEC__PORT", 8088),
}
OVERRIDE = "ORDERFLOW_HEALTHCHECK_PORT"
TIMEOUT_S = 3.0


def command_of(argv: list[str]) -> str | None:
    """The orderflow sub-command in a process's argv (``[python, .../orderflow, api, ...]``)."""
    for index, arg in enumerate(argv[:-1]):
        if Path(arg).name == "orderflow":
            return argv[index + 1]
    return None


def running_command(proc: Path = Path("/proc")) -> str | None:
    """The sub-command of the orderflow process in this container, lowest PID first."""
    pids = sorted(int(entry.name) for entry in proc.iterdir() if entry.name.isdigit())
    for pid in pids:
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:  # the process ended while we looked, or is not ours to read
            continue
        argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
        command = command_of(argv)
        if command is not None:
            return command
    return None


def probe_port(command: str | None, environ: Mapping[str, str]) -> int | None:
    """The port to probe, or None when the command serves no HTTP."""
    if environ.get(OVERRIDE):
        return int(environ[OVERRIDE])
    if command not in COMMAND_PORTS:
        return None
    variable, default = COMMAND_PORTS[command]
    return int(environ.get(variable) or default)


def live(port: int, timeout_s: float = TIMEOUT_S) -> bool:
    url = f"http://127.0.0.1:{port}/health/live"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    command = running_command()
    port = probe_port(command, os.environ)
    if port is None:
        return 0
    if live(port):
        return 0
    print(f"orderflow {command}: /health/live on port {port} did not answer 200", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
