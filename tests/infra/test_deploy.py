"""The deploy scripts, run for real with ``az``, ``temporal``, ``curl`` and ``orderflow`` replaced
by a recorder on ``PATH`` (tests/infra/fake_az/recorder.py): the exact command sequences of a
blue-green deployment and of a rollback, and what must not happen when a step fails."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.tools import REPO_ROOT, tool

DEPLOY_DIR = REPO_ROOT / "scripts" / "deploy"
RECORDER = Path(__file__).parent / "fake_az" / "recorder.py"
FAKED = ("az", "temporal", "curl", "orderflow")

BUILD_ID = "4f2c9e1d0b8a7c6e5f4d3c2b1a09876543210fed"
SUFFIX = "g4f2c9e1"
REGISTRY = "orderflowdevweuacr.azurecr.io/orderflow@sha256:"
IMAGE, OLD_IMAGE, OLDER_IMAGE = (REGISTRY + byte * 32 for byte in ("ab", "cd", "ef"))
RG = "orderflow-dev-weu-rg"
API = "orderflow-dev-weu-api"
WORKER = "orderflow-dev-weu-worker"
BRIDGE = "orderflow-dev-weu-bridge"
JOB = "orderflow-dev-weu-setup"
KV = "orderflow-dev-weu-kv"
SERVING = f"{API}--gold0001"
NEW = f"{API}--{SUFFIX}"
STALE = f"{API}--gstale01"
EXECUTION = f"{JOB}-x1y2z3"
ORDER_ID = "smoke-test-0001"
NEW_HOST = "api--g4f2c9e1.dev.example"
APP_HOST = "api.dev.example"
BUILD_ID_SETTING = "ORDERFLOW_WORKER__BUILD_ID"

# az --query strings the scripts use.
SERVING_Q = "[?weight==`100`].revisionName | [0]"
PREVIOUS_Q = "[?label=='previous'].revisionName | [0]"
IMAGE_Q = "properties.template.containers[0].image"
FQDN_Q = "properties.configuration.ingress.fqdn"
STALE_Q = f"[?properties.active && name!='{NEW}' && name!='{SERVING}'].name"
HISTORY_Q = (
    "sort_by([], &properties.createdTime)[].[properties.template.containers[0].image, "
    f"properties.template.containers[0].env[?name=='{BUILD_ID_SETTING}'].value | [0]]"
)


@dataclass
class Call:
    tool: str
    argv: list[str]
    stdin: str = ""


@dataclass
class Fakes:
    """A bin directory of recorders plus the rules they answer with."""

    root: Path
    rules: list[dict[str, Any]] = field(default_factory=list)

    def answer(
        self, tool_name: str, *match: str, stdout: str = "", code: int = 0, times: int | None = None
    ) -> None:
        rule: dict[str, Any] = {"tool": tool_name, "match": list(match), "stdout": stdout}
        rule["exit"] = code
        if times is not None:
            rule["times"] = times
        self.rules.append(rule)

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        (self.root / "rules.json").write_text(json.dumps(self.rules), encoding="utf-8")
        path = [str(self.root / "bin"), str(Path(sys.executable).parent), "/usr/bin", "/bin"]
        environment = {
            "PATH": os.pathsep.join(path),
            "HOME": str(self.root),
            "FAKE_LOG": str(self.root / "calls.jsonl"),
            "FAKE_RULES": str(self.root / "rules.json"),
            "DEPLOY_POLL_S": "0",
            "DEPLOY_WAIT_ATTEMPTS": "3",
            "DEPLOY_BUILD_ID": BUILD_ID,
            "TEMPORAL_ADDRESS": "orderflow-dev.acct.tmprl.cloud:7233",
            "TEMPORAL_NAMESPACE": "orderflow-dev.acct",
            "SMOKE_ORDER_ID": ORDER_ID,
            **env,
        }
        return subprocess.run(
            ["bash", str(DEPLOY_DIR / script), *args],
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def calls(self) -> list[Call]:
        log = self.root / "calls.jsonl"
        if not log.exists():
            return []
        lines = log.read_text(encoding="utf-8").splitlines()
        return [Call(**json.loads(line)) for line in lines]

    def commands(self) -> list[list[str]]:
        """Every call as ``[tool, *argv]``."""
        return [[call.tool, *call.argv] for call in self.calls()]


@pytest.fixture
def fakes(tmp_path: Path) -> Fakes:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in FAKED:
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{RECORDER}" {name} "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return Fakes(tmp_path)


# --------------------------------------------------------------------------- expected commands


def ca(sub: str, app: str, *rest: str) -> list[str]:
    """``az containerapp SUB -n APP -g RG REST…`` (SUB may be several words)."""
    return ["az", "containerapp", *sub.split(), "-n", app, "-g", RG, *rest]


def tsv(query: str) -> tuple[str, ...]:
    return ("--query", query, "-o", "tsv")


def kv(secret: str) -> list[str]:
    return ["az", "keyvault", "secret", "show", "--vault-name", KV, "--name", secret, *tsv("value")]


def temporal_version(action: str, build_id: str, *rest: str) -> list[str]:
    head = ["temporal", "worker", "deployment", action, "--deployment-name", "orderflow"]
    return [*head, "--build-id", build_id, *rest]


def describe_version(build_id: str) -> list[str]:
    return temporal_version("describe-version", build_id, "-o", "json")


def set_current(build_id: str) -> list[str]:
    return temporal_version("set-current-version", build_id, "--yes")


def curl_ready(host: str) -> list[str]:
    return ["curl", "-fsS", "--max-time", "10", "-o", "/dev/null", f"https://{host}/health/ready"]


def curl_order(host: str) -> list[str]:
    return ["curl", "-fsS", "--max-time", "10", "-H", "@-", f"https://{host}/orders/{ORDER_ID}"]


def smoke_with_order(host: str) -> list[list[str]]:
    """Ready, the two secrets, the order, and two looks at it (Open on the second)."""
    return [
        curl_ready(host),
        kv("api-token"),
        kv("kafka-sasl-password"),
        ["orderflow", "produce", "-"],
        curl_order(host),
        curl_order(host),
    ]


def happy_deploy(fakes: Fakes) -> None:
    fakes.answer("az", "keyvault", "temporal-api-key", stdout="temporal-key\n")
    fakes.answer("az", "keyvault", "api-token", stdout="api-token-value\n")
    fakes.answer("az", "keyvault", "kafka-sasl-password", stdout="Endpoint=sb-fake;Key=x\n")
    fakes.answer("az", "job", "start", stdout=f"{EXECUTION}\n")
    fakes.answer("az", "job", "execution", "show", stdout="Running\n", times=1)
    fakes.answer("az", "job", "execution", "show", stdout="Succeeded\n")
    fakes.answer("az", "ingress", "traffic", "show", stdout=f"{SERVING}\n")
    fakes.answer("az", "revision", "show", NEW, stdout=f"{NEW_HOST}\n")
    fakes.answer("az", "revision", "list", API, stdout=f"{STALE}\n")
    fakes.answer("az", "containerapp", "show", API, FQDN_Q, stdout=f"{APP_HOST}\n")
    fakes.answer("orderflow", "produce", stdout="order.create.v1[3]@42 key=SMOKE\n")
    # Each smoke order is Open on the second look; the new worker version polls on the second.
    for host in (NEW_HOST, APP_HOST):
        fakes.answer("curl", f"https://{host}/orders/{ORDER_ID}", code=22, times=1)
    fakes.answer("curl", "-H", stdout='{"OrderID": "smoke-test-0001", "StatusCode": 1000}')
    fakes.answer("curl")  # /health/ready: 200
    fakes.answer("temporal", "describe-version", code=1, times=1)


def test_deploy_runs_the_blue_green_sequence(fakes: Fakes) -> None:
    happy_deploy(fakes)
    result = fakes.run("deploy.sh", "dev", IMAGE)
    assert result.returncode == 0, result.stderr
    poll_setup = ca("job execution show", JOB, "--job-execution-name", EXECUTION)
    poll_setup += tsv("properties.status")
    assert fakes.commands() == [
        kv("temporal-api-key"),
        # 1. the setup job runs the new image, polled until it succeeded
        ca("job update", JOB, "--image", IMAGE),
        ca("job start", JOB, *tsv("name")),
        poll_setup,
        poll_setup,
        # 2. API: traffic pinned, new revision at 0 %, smoke test (order included) on its URL
        ca("ingress traffic show", API, *tsv(SERVING_Q)),
        ca("ingress traffic set", API, "--revision-weight", f"{SERVING}=100"),
        ca("update", API, "--image", IMAGE, "--revision-suffix", SUFFIX),
        ca("revision show", API, "--revision", NEW, *tsv("properties.fqdn")),
        *smoke_with_order(NEW_HOST),
        # 3. traffic switch; the old revision is `previous`, older ones are deactivated
        ca("ingress traffic set", API, "--revision-weight", f"{NEW}=100", f"{SERVING}=0"),
        ca("revision label add", API, "--label", "previous", "--revision", SERVING, "--yes"),
        ca("revision list", API, *tsv(STALE_Q)),
        ca("revision deactivate", API, "--revision", STALE),
        # 4. worker, then its Temporal version becomes current once its workers poll
        ca(
            "update",
            WORKER,
            *("--image", IMAGE, "--revision-suffix", SUFFIX),
            *("--set-env-vars", f"{BUILD_ID_SETTING}={BUILD_ID}"),
        ),
        describe_version(BUILD_ID),
        describe_version(BUILD_ID),
        set_current(BUILD_ID),
        # 5. bridge
        ca("update", BRIDGE, "--image", IMAGE, "--revision-suffix", SUFFIX),
        # 6. the whole pipeline through the app's own URL
        ca("show", API, *tsv(FQDN_Q)),
        *smoke_with_order(APP_HOST),
    ]


def test_smoke_order_is_valid_and_the_token_stays_off_command_lines(fakes: Fakes) -> None:
    happy_deploy(fakes)
    assert fakes.run("deploy.sh", "dev", IMAGE).returncode == 0
    calls = fakes.calls()
    produced = [call for call in calls if call.tool == "orderflow"]
    assert len(produced) == 2
    order = json.loads(produced[0].stdin)
    assert order["OrderID"] == ORDER_ID
    assert order["ShipFromLocationID"] == "SMOKE"
    assert all("api-token-value" not in " ".join(call.argv) for call in calls)
    curl_inputs = {call.stdin for call in calls if call.tool == "curl"}
    assert "Authorization: Bearer api-token-value\n" in curl_inputs


def test_setup_job_failure_changes_nothing_else(fakes: Fakes) -> None:
    fakes.answer("az", "job", "start", stdout=f"{EXECUTION}\n")
    fakes.answer("az", "job", "execution", "show", stdout="Failed\n")
    result = fakes.run("deploy.sh", "dev", IMAGE, TEMPORAL_API_KEY="set")
    assert result.returncode != 0
    assert "setup job" in result.stderr
    commands = fakes.commands()
    assert commands[-1][:5] == ["az", "containerapp", "job", "execution", "show"]
    changes = [c for c in commands if "update" in c[2:3] or "traffic" in c or c[0] == "temporal"]
    assert changes == []


def test_smoke_failure_keeps_traffic_and_deactivates_the_new_revision(fakes: Fakes) -> None:
    fakes.answer("az", "job", "start", stdout=f"{EXECUTION}\n")
    fakes.answer("az", "job", "execution", "show", stdout="Succeeded\n")
    fakes.answer("az", "ingress", "traffic", "show", stdout=f"{SERVING}\n")
    fakes.answer("az", "revision", "show", NEW, stdout=f"{NEW_HOST}\n")
    fakes.answer("curl", code=22)  # /health/ready never answers 200
    result = fakes.run("deploy.sh", "dev", IMAGE, TEMPORAL_API_KEY="set")
    assert result.returncode != 0
    commands = fakes.commands()
    assert [c for c in commands if c[2:4] == ["ingress", "traffic"] and "set" in c] == [
        ca("ingress traffic set", API, "--revision-weight", f"{SERVING}=100")
    ]
    assert [c for c in commands if c[0] == "curl"] == [curl_ready(NEW_HOST)] * 3
    assert commands[-1] == ca("revision deactivate", API, "--revision", NEW)
    untouched = [c for c in commands if WORKER in c or BRIDGE in c or "label" in c]
    assert untouched == []
    assert [c for c in commands if c[0] == "temporal"] == []


def test_worker_version_that_never_polls_is_not_made_current(fakes: Fakes) -> None:
    happy_deploy(fakes)
    fakes.rules = [rule for rule in fakes.rules if rule["tool"] != "temporal"]
    fakes.answer("temporal", "describe-version", code=1)
    result = fakes.run("deploy.sh", "dev", IMAGE)
    assert result.returncode != 0
    commands = fakes.commands()
    assert commands[-3:] == [describe_version(BUILD_ID)] * 3
    assert [c for c in commands if "set-current-version" in c or BRIDGE in c] == []


def test_prod_smoke_checks_readiness_only(fakes: Fakes) -> None:
    prod_api = API.replace("-dev-", "-prod-")
    fakes.answer("az", "revision", "show", f"{prod_api}--{SUFFIX}", stdout="rev.prod.example\n")
    fakes.answer("az", "containerapp", "show", prod_api, FQDN_Q, stdout="api.prod.example\n")
    happy_deploy(fakes)
    result = fakes.run("deploy.sh", "prod", IMAGE.replace("dev", "prod"))
    assert result.returncode == 0, result.stderr
    commands = fakes.commands()
    assert [c for c in commands if c[0] == "orderflow" or "api-token" in c] == []
    assert [c for c in commands if c[0] == "curl"] == [
        curl_ready("rev.prod.example"),
        curl_ready("api.prod.example"),
    ]
    assert all("orderflow-prod-weu-rg" in c for c in commands if c[:2] == ["az", "containerapp"])


def test_rerun_gets_its_own_revision_suffix(fakes: Fakes) -> None:
    happy_deploy(fakes)
    fakes.run("deploy.sh", "dev", IMAGE, GITHUB_RUN_ATTEMPT="2")
    updates = [c for c in fakes.commands() if c[:3] == ["az", "containerapp", "update"]]
    assert len(updates) == 3
    assert {c[c.index("--revision-suffix") + 1] for c in updates} == {f"{SUFFIX}-2"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dev", "orderflowdevweuacr.azurecr.io/orderflow:latest"), "by digest"),
        (("qa", IMAGE), "dev, staging or prod"),
        (("dev",), "usage"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(
    fakes: Fakes, args: tuple[str, ...], message: str
) -> None:
    result = fakes.run("deploy.sh", *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert fakes.calls() == []


# --------------------------------------------------------------------------- rollback


def happy_rollback(fakes: Fakes) -> None:
    fakes.answer("az", "ingress", "traffic", "show", PREVIOUS_Q, stdout=f"{SERVING}\n")
    fakes.answer("az", "ingress", "traffic", "show", SERVING_Q, stdout=f"{NEW}\n")
    for app in (WORKER, BRIDGE):
        fakes.answer("az", "containerapp", "show", app, stdout=f"{IMAGE}\n")
    # `az containerapp revision list -o tsv` rows [image, build ID], oldest first.
    worker_history = f"{OLDER_IMAGE}\t\n{OLD_IMAGE}\toldbuild0001\n{IMAGE}\t{BUILD_ID}\n"
    fakes.answer("az", "revision", "list", WORKER, stdout=worker_history)
    fakes.answer("az", "revision", "list", BRIDGE, stdout=f"{OLD_IMAGE}\t\n{IMAGE}\t\n")
    fakes.answer("az", "containerapp", "show", API, FQDN_Q, stdout=f"{APP_HOST}\n")


def test_rollback_runs_the_reverse_sequence(fakes: Fakes) -> None:
    happy_rollback(fakes)
    result = fakes.run("rollback.sh", "dev", TEMPORAL_API_KEY="set")
    assert result.returncode == 0, result.stderr
    assert fakes.commands() == [
        # 1. API traffic back to the revision labelled previous, which is activated first
        ca("ingress traffic show", API, *tsv(PREVIOUS_Q)),
        ca("ingress traffic show", API, *tsv(SERVING_Q)),
        ca("revision activate", API, "--revision", SERVING),
        ca("ingress traffic set", API, "--revision-weight", f"{SERVING}=100", f"{NEW}=0"),
        ca("revision label add", API, "--label", "previous", "--revision", NEW, "--yes"),
        # 2. worker: the previous image and its build ID from the revision history
        ca("show", WORKER, *tsv(IMAGE_Q)),
        ca("revision list", WORKER, "--all", *tsv(HISTORY_Q)),
        ca(
            "update",
            WORKER,
            *("--image", OLD_IMAGE, "--set-env-vars", f"{BUILD_ID_SETTING}=oldbuild0001"),
        ),
        describe_version("oldbuild0001"),
        set_current("oldbuild0001"),
        # 3. bridge
        ca("show", BRIDGE, *tsv(IMAGE_Q)),
        ca("revision list", BRIDGE, "--all", *tsv(HISTORY_Q)),
        ca("update", BRIDGE, "--image", OLD_IMAGE),
        # 4. the database is left alone; 5. verify
        ca("show", API, *tsv(FQDN_Q)),
        curl_ready(APP_HOST),
    ]
    assert "database: unchanged" in result.stderr


def test_rollback_without_a_previous_revision_changes_nothing(fakes: Fakes) -> None:
    fakes.answer("az", "ingress", "traffic", "show", stdout="\n")
    result = fakes.run("rollback.sh", "dev", TEMPORAL_API_KEY="set")
    assert result.returncode != 0
    assert "nothing to roll back to" in result.stderr
    assert fakes.commands() == [ca("ingress traffic show", API, *tsv(PREVIOUS_Q))]


def test_rollback_reads_the_temporal_key_from_key_vault(fakes: Fakes) -> None:
    happy_rollback(fakes)
    fakes.answer("az", "keyvault", "temporal-api-key", stdout="temporal-key\n")
    assert fakes.run("rollback.sh", "dev").returncode == 0
    assert fakes.commands()[0] == kv("temporal-api-key")


def test_rollback_without_versioning_skips_temporal(fakes: Fakes) -> None:
    happy_rollback(fakes)
    result = fakes.run("rollback.sh", "dev", DEPLOY_TEMPORAL_VERSIONING="false")
    assert result.returncode == 0, result.stderr
    assert [c for c in fakes.commands() if c[0] == "temporal" or "keyvault" in c] == []


# --------------------------------------------------------------------------- static checks


def test_shellcheck_passes() -> None:
    scripts = [str(path) for path in sorted(DEPLOY_DIR.glob("*.sh"))]
    scripts += [str(REPO_ROOT / "scripts" / name) for name in ("lock.sh", "image-check.sh")]
    result = subprocess.run(
        [tool("shellcheck"), "--external-sources", "--severity=style", *scripts],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_scripts_are_strict_and_executable() -> None:
    for path in sorted(DEPLOY_DIR.glob("*.sh")):
        text = path.read_text(encoding="utf-8")
        if path.name == "lib.sh":
            assert "# shellcheck shell=bash" in text
            continue
        assert text.startswith("#!/usr/bin/env bash\n"), path.name
        assert "set -euo pipefail" in text, path.name
        assert os.access(path, os.X_OK), path.name


def test_temporal_connection_defaults_to_the_worker_settings(fakes: Fakes) -> None:
    happy_rollback(fakes)
    env_query = "properties.template.containers[0].env[?name=='{}'].value | [0]"
    address, namespace = "orderflow-dev.acct.tmprl.cloud:7233", "orderflow-dev.acct"
    fakes.rules.insert(
        0, {"tool": "az", "match": ["ORDERFLOW_TEMPORAL__ADDRESS"], "stdout": address}
    )
    fakes.rules.insert(
        0, {"tool": "az", "match": ["ORDERFLOW_TEMPORAL__NAMESPACE"], "stdout": namespace}
    )
    result = fakes.run(
        "rollback.sh", "dev", TEMPORAL_ADDRESS="", TEMPORAL_NAMESPACE="", TEMPORAL_API_KEY="k"
    )
    assert result.returncode == 0, result.stderr
    assert fakes.commands()[:2] == [
        ca("show", WORKER, *tsv(env_query.format("ORDERFLOW_TEMPORAL__ADDRESS"))),
        ca("show", WORKER, *tsv(env_query.format("ORDERFLOW_TEMPORAL__NAMESPACE"))),
    ]
