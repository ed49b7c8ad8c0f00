"""``orderflow dev --monitoring``: the Prometheus configuration it renders (checked by
``promtool``), the file_sd targets it writes, and what happens without Prometheus installed.
The whole stack with a real Prometheus runs in tests/integration/test_monitoring_acceptance.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from config.settings import Settings
from orderflow.cli import app
from orderflow.devstack import prometheus, stack, supervisor
from orderflow.devstack.prometheus import (
    CONFIG_DIR,
    PrometheusPaths,
    render_config,
    write_target,
)
from orderflow.devstack.settings import DevStackSettings
from tests.helpers.tools import tool

COMPONENTS = ("worker", "bridge", "api")


def test_the_committed_config_is_pointed_at_the_state_folder(tmp_path: Path) -> None:
    paths = PrometheusPaths(tmp_path / "prometheus")
    config = render_config(paths, scrape_interval="2s")
    committed = yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text())
    assert config["global"]["scrape_interval"] == "2s"
    assert config["global"]["evaluation_interval"] == "2s"
    assert config["global"]["external_labels"] == committed["global"]["external_labels"]
    assert [job["job_name"] for job in config["scrape_configs"]] == [
        job["job_name"] for job in committed["scrape_configs"]
    ]
    files = {
        job["job_name"]: job["file_sd_configs"][0]["files"] for job in config["scrape_configs"]
    }
    assert files == {f"orderflow-{c}": [str(paths.target_file(c))] for c in COMPONENTS}
    assert config["rule_files"] == [str((CONFIG_DIR / "rules" / "*.yml").resolve())]


def test_promtool_accepts_the_rendered_config_with_its_targets_and_rules(tmp_path: Path) -> None:
    paths = PrometheusPaths(tmp_path / "prometheus")
    for port, component in enumerate(COMPONENTS, start=8081):
        target = write_target(paths, component, f"127.0.0.1:{port}")
        assert json.loads(target.read_text()) == [
            {"targets": [f"127.0.0.1:{port}"], "labels": {"component": component}}
        ]
    paths.config.write_text(yaml.safe_dump(render_config(paths, scrape_interval="1s")))
    result = subprocess.run(
        [tool("promtool"), "check", "config", str(paths.config)],
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    rule_files = len(list((CONFIG_DIR / "rules").glob("*.yml")))
    assert f"SUCCESS: {rule_files} rule files found" in output


def test_without_prometheus_the_stack_says_so_and_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "find_prometheus", lambda: None)
    said: list[str] = []
    local = stack.LocalStack(
        Settings(state_dir=tmp_path), DevStackSettings(monitoring=True), echo=said.append
    )
    local._start_prometheus()
    assert said == [f"orderflow dev: --monitoring: {prometheus.NOT_INSTALLED}"]
    assert "prometheus is not installed" in local.endpoints.started["prometheus"]
    assert local.processes == []


def test_the_monitoring_option_reaches_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[DevStackSettings] = []

    def run(settings: Settings, dev: DevStackSettings, **_: object) -> int:
        seen.append(dev)
        return 0

    monkeypatch.setattr(supervisor, "run_dev_stack", run)
    for name in ("ORDERFLOW_DEV__MONITORING", "ORDERFLOW_DATABASE__URL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["dev"]).exit_code == 0
    assert runner.invoke(app, ["dev", "--monitoring"]).exit_code == 0
    assert [dev.monitoring for dev in seen] == [False, True]
