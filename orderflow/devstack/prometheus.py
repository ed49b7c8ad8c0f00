"""``orderflow dev --monitoring``: a local Prometheus scraping the stack's processes, with the
alert rules of ``infra/monitoring/prometheus/rules/`` loaded.

It runs ``infra/monitoring/prometheus/prometheus.yml`` as committed, with three things of this
stack put in: the file_sd target files live in the state folder
(``<state>/prometheus/targets/{worker,bridge,api}.json``, written as each component gets its
port), the rule files are named by absolute path, and the scrape/evaluation interval is
``ORDERFLOW_DEV__PROMETHEUS_SCRAPE_INTERVAL`` (15 s like the committed file unless set). The
rendered copy and the TSDB live in ``<state>/prometheus/``. Prometheus is Debian's package
(``scripts/bootstrap.sh`` installs it); when it is not installed the stack runs without it and
says so.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# PyYAML is in the runtime set already (uvicorn[standard] depends on it).
import yaml

from orderflow.devstack.net import http_ok
from orderflow.devstack.process import ManagedProcess, start_until_ready

# The committed configuration, found from a source checkout (the image does not ship infra/).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "infra" / "monitoring" / "prometheus"
NOT_INSTALLED = (
    "prometheus is not installed (Debian package `prometheus`; scripts/bootstrap.sh installs "
    "it): the stack runs without metrics collection"
)


@dataclass(frozen=True)
class PrometheusPaths:
    """Where the stack keeps Prometheus' files, under ``<state>/prometheus``."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "prometheus.yml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def targets(self) -> Path:
        return self.root / "targets"

    def target_file(self, component: str) -> Path:
        return self.targets / f"{component}.json"


def find_prometheus() -> str | None:
    """The ``prometheus`` server binary on PATH, or None."""
    return shutil.which("prometheus")


def write_target(paths: PrometheusPaths, component: str, address: str) -> Path:
    """``[{"targets": ["host:port"], "labels": {"component": ...}}]`` for one component.

    Written atomically (a rename), since Prometheus may read it at any moment.
    """
    paths.targets.mkdir(parents=True, exist_ok=True)
    target = paths.target_file(component)
    partial = target.with_suffix(".json.tmp")
    partial.write_text(json.dumps([{"targets": [address], "labels": {"component": component}}]))
    partial.replace(target)
    return target


def render_config(
    paths: PrometheusPaths, *, scrape_interval: str, source_dir: Path = CONFIG_DIR
) -> dict[str, Any]:
    """The committed ``prometheus.yml`` pointed at this stack's files (see the module doc)."""
    config: dict[str, Any] = yaml.safe_load((source_dir / "prometheus.yml").read_text())
    config.setdefault("global", {}).update(
        scrape_interval=scrape_interval, evaluation_interval=scrape_interval
    )
    config["rule_files"] = [str((source_dir / rule).resolve()) for rule in config["rule_files"]]
    for job in config["scrape_configs"]:
        for discovery in job.get("file_sd_configs", []):
            discovery["files"] = [str(paths.target_file(Path(f).stem)) for f in discovery["files"]]
    return config


def start_prometheus(
    binary: str,
    paths: PrometheusPaths,
    *,
    host: str,
    port: int,
    scrape_interval: str,
    log_path: Path,
    timeout_s: float = 60.0,
) -> tuple[ManagedProcess, str]:
    """Write the configuration, start Prometheus and wait until it is ready; returns the process
    and its URL. Raises ``ServiceError`` with the log's tail when it does not come up."""
    paths.data.mkdir(parents=True, exist_ok=True)
    paths.targets.mkdir(parents=True, exist_ok=True)
    config = render_config(paths, scrape_interval=scrape_interval)
    paths.config.write_text(yaml.safe_dump(config, sort_keys=False))
    url = f"http://{host}:{port}"
    process = ManagedProcess(
        name="prometheus",
        argv=[
            binary,
            f"--config.file={paths.config}",
            f"--storage.tsdb.path={paths.data}",
            f"--web.listen-address={host}:{port}",
        ],
        log_path=log_path,
    )
    start_until_ready(process, lambda: http_ok(f"{url}/-/ready"), timeout_s=timeout_s)
    return process, url
