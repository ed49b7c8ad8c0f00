"""The application's own processes that the local stack runs after the services are up."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from orderflow.devstack.process import ManagedProcess

# The one list of application components, in start order. Each is ``orderflow <name>``.
APP_COMPONENTS: tuple[str, ...] = ("worker", "bridge", "api")


def component_process(name: str, *, env: Mapping[str, str], log_dir: Path) -> ManagedProcess:
    """``python -m orderflow <name>`` with the stack's environment, logging to ``<name>.log``."""
    return ManagedProcess(
        name=name,
        argv=[sys.executable, "-m", "orderflow", name],
        log_path=log_dir / f"{name}.log",
        env=env,
        # Workers drain in-flight tasks on SIGTERM; give them time before SIGKILL.
        stop_timeout_s=35.0,
    )
