"""infra/ansible offline: syntax, ansible-lint, the inventories against the ARM templates, and the
playbooks that can run here for real against stand-ins.

* ``ansible-playbook --syntax-check`` of every playbook with every inventory, and ansible-lint's
  production profile.
* Each Azure inventory resolves to the names the ARM template gives its environment, and every
  deploy-time secret of ``main.json`` has a source that is a vault variable or a lookup.
* The Grafana role against a stand-in of Grafana's HTTP API: first run imports, second run
  changes nothing, a dashboard edited in Grafana is put back.
* ``deploy.yml`` / ``rollback.yml`` call the deploy scripts (stand-ins recording their arguments)
  the way CI does, after publishing the schemas; an image without a digest is refused before
  anything runs.

Nothing here talks to Azure. ``local.yml`` runs for real in tests/integration/test_ansible_local.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.tools import REPO_ROOT, tool
from tests.infra.arm_support import ENVIRONMENTS, MAIN, load, main_context

ANSIBLE_DIR = REPO_ROOT / "infra" / "ansible"
PLAYBOOKS = ("provision.yml", "deploy.yml", "rollback.yml", "local.yml")
INVENTORIES = ("local", *ENVIRONMENTS)
DASHBOARDS = sorted((REPO_ROOT / "infra" / "monitoring" / "grafana" / "dashboards").glob("*.json"))
IMAGE = "orderflowdevweuacr.azurecr.io/orderflow@sha256:" + "ab" * 32
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


# --------------------------------------------------------------------------- helpers


def ansible_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without settings that would steer Ansible or the app."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "ORDERFLOW_"))}
    env.update({"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def run_playbook(
    *args: str,
    inventory: str | Path = "inventories/local",
    env: dict[str, str] | None = None,
    cwd: Path = ANSIBLE_DIR,
    timeout_s: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook -i INVENTORY ARGS`` from ``cwd`` (infra/ansible: its ansible.cfg)."""
    return subprocess.run(
        [tool("ansible-playbook"), "-i", str(inventory), *args],
        cwd=cwd,
        env=ansible_env(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@dataclass(frozen=True)
class Recap:
    ok: int
    changed: int
    unreachable: int
    failed: int


def play_recap(result: subprocess.CompletedProcess[str]) -> Recap:
    """The PLAY RECAP line of the run's single host."""
    lines = RECAP.findall(result.stdout)
    assert len(lines) == 1, result.stdout + result.stderr
    _, ok, changed, unreachable, failed = lines[0]
    return Recap(int(ok), int(changed), int(unreachable), int(failed))


def succeeded(result: subprocess.CompletedProcess[str]) -> Recap:
    recap = play_recap(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap.failed == 0, result.stdout
    return recap


def local_playbook(
    path: Path, name: str, *, roles: list[Any] | None = None, tasks: list[Any] | None = None
) -> Path:
    """Write a one-play playbook on the controller (local connection, the runner's Python)."""
    play: dict[str, Any] = {
        "name": name,
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
    }
    if roles is not None:
        play["roles"] = roles
    if tasks is not None:
        play["tasks"] = tasks
    path.write_text(yaml.safe_dump([play]))
    return path


# --------------------------------------------------------------------------- static checks


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_playbook_passes_syntax_check(inventory: str) -> None:
    result = run_playbook("--syntax-check", *PLAYBOOKS, inventory=f"inventories/{inventory}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [f"playbook: {p}" for p in PLAYBOOKS] == [
        line for line in result.stdout.splitlines() if line.startswith("playbook:")
    ]


def test_ansible_lint_production_profile_passes() -> None:
    result = subprocess.run(
        [tool("ansible-lint"), "--offline", "--nocolor"],
        cwd=ANSIBLE_DIR,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output


def listed_tasks(playbook: str, *args: str) -> list[str]:
    """``--list-tasks`` of ``playbook`` for the dev inventory: the task names, in order."""
    result = run_playbook(playbook, "--list-tasks", *args, inventory="inventories/dev")
    assert result.returncode == 0, result.stdout + result.stderr
    return [
        line.strip().split("\t")[0]
        for line in result.stdout.splitlines()
        if "\tTAGS: " in line and not line.lstrip().startswith("play #")
    ]


def test_provision_steps_run_alone_with_their_tag_after_reading_the_outputs() -> None:
    deploy = "arm_deployment : Deploy the packed template (az deployment group create)"
    previous = [
        "Read the outputs of the last deployment",
        "Keep them as orderflow_previous_outputs",
    ]
    outputs = "Read the outputs of the ARM deployment"
    everything = listed_tasks("provision.yml")
    assert everything[:2] == previous  # the suffixed names (Key Vault) before anything else
    assert deploy in everything
    assert everything.index(deploy) < everything.index(outputs)
    for tag, role in [("database", "app_database"), ("grafana", "grafana_dashboards")]:
        tasks = listed_tasks("provision.yml", "--tags", tag)[len(previous) :]
        assert tasks[0] == outputs, tag
        assert len(tasks) > 1, tag
        assert all(task.startswith(f"{role} : ") for task in tasks[1:]), tag
    assert listed_tasks("provision.yml", "--tags", "schemas")[len(previous) + 1 :] == [
        "schema_registry : Check the inputs",
        "schema_registry : Publish the message schemas to {{ schema_registry_endpoint }}",
    ]


def resolved(
    inventory: str,
    expression: str,
    env: dict[str, str] | None = None,
    extra_vars: dict[str, Any] | None = None,
) -> Any:
    """``expression`` templated for the inventory's host, with the playbooks' group_vars."""
    result = subprocess.run(
        [
            tool("ansible"),
            "all",
            "-i",
            f"inventories/{inventory}",
            "-e",
            json.dumps(extra_vars or {}),
            "--playbook-dir",
            ".",
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"msg={{{{ {expression} }}}}",
        ],
        cwd=ANSIBLE_DIR,
        env=ansible_env(
            {"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json", **(env or {})}
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hosts = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]
    assert len(hosts) == 1
    return next(iter(hosts.values()))["msg"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_azure_inventories_resolve_to_the_arm_templates_names(environment: str) -> None:
    names = main_context(environment).variable("names")
    expression = (
        "{'environment': orderflow_environment, 'resource_group': orderflow_resource_group,"
        " 'key_vault': orderflow_key_vault_name, 'prefix': orderflow_name_prefix,"
        " 'groups': group_names}"
    )
    # The suffixed names come from the last deployment's outputs (none before the first).
    outputs = {"orderflow_previous_outputs": {"keyVaultName": names["keyVault"]}}
    values = resolved(environment, expression, extra_vars=outputs)
    assert values == {
        "environment": environment,
        "resource_group": names["resourceGroup"],
        "key_vault": names["keyVault"],
        "prefix": names["api"].removesuffix("-api"),
        "groups": ["azure"],
    }
    assert resolved(environment, "orderflow_key_vault_name") == ""
    # Parameters the playbooks read take the parameter file's value, else main.json's default.
    assert resolved(
        environment, "[orderflow_postgres_admin_login, orderflow_temporal_auth_mode]"
    ) == ["orderflowadmin", "apiKey"]


def test_the_local_inventory_is_not_an_azure_one() -> None:
    assert resolved("local", "group_names") == ["local"]


def test_local_setup_takes_the_stacks_codec_key_or_turns_the_codec_off() -> None:
    assert resolved("local", "orderflow_local_codec") == {"ORDERFLOW_CODEC__ENABLED": "false"}
    keys = '{"local": "' + "A" * 43 + '="}'
    assert resolved("local", "orderflow_local_codec", env={"ORDERFLOW_CODEC__KEYS": keys}) == {
        "ORDERFLOW_CODEC__KEYS": keys
    }


def test_every_deploy_time_secret_comes_from_vault_or_key_vault() -> None:
    declared = {
        name
        for name, parameter in load(MAIN)["parameters"].items()
        if parameter.get("metadata", {}).get("deployTime") == "secret-store"
    }
    secrets = yaml.safe_load((ANSIBLE_DIR / "group_vars" / "azure" / "secrets.yml").read_text())
    sources: dict[str, str] = secrets["orderflow_secrets"]
    assert set(sources) == declared
    for name, source in sources.items():
        # A vault variable first, the environment's Key Vault otherwise (through the Azure CLI's
        # login, like every Azure access of the playbooks); never a literal.
        assert re.match(r"\{\{ vault_\w+ if vault_\w+ is defined\s+else ", source), name
        assert "lookup('ansible.builtin.pipe', orderflow_key_vault_secret ~ ' " in source, name
    assert secrets["orderflow_key_vault_secret"].startswith(
        "az keyvault secret show --vault-name {{ orderflow_key_vault_name | quote }}"
    )


def test_no_playbook_uses_the_azure_collection() -> None:
    """H4: azcollection 3.x has no OIDC credential and, with AZURE_* variables set, wants a client
    secret; the playbooks reach Azure through the az CLI and its login (azure/login in CI)."""
    for path in ANSIBLE_DIR.rglob("*.yml"):
        text = path.read_text()
        assert "azure.azcollection" not in text, path
        assert "auth_source" not in text, path


def test_nothing_under_infra_ansible_holds_a_secret_value() -> None:
    """Every setting named like a secret is empty or a template (vault variable, lookup)."""
    for path in ANSIBLE_DIR.rglob("*.yml"):
        text = path.read_text()
        assert "$ANSIBLE_VAULT" not in text, path  # operators add vault.yml themselves
        for match in re.finditer(
            r"(?im)^[ \t]*(\w*(password|token|secret|keys?)):[ \t]*(.+)$", text
        ):
            value = match.group(3).strip()
            assert value.startswith(('"{{', "{{", ">-", '""')) or value in ("{}", "[]"), (
                path,
                match.group(0),
            )


# --------------------------------------------------------------------------- ARM parameters

SECRETS = {
    "postgresAdministratorPassword": "admin-password-0123456789",
    "postgresAppPassword": "app-password-0123456789",
    "temporalCredentials": {"apiKey": "temporal-key"},
    "codecKeys": '{"k1": "' + "A" * 43 + '="}',
    "apiToken": "t" * 40,
    "tlsCertificatePfx": "cGZ4",
    "githubRunnerToken": "github_pat_0123456789",
}


def compose_parameters(tmp_path: Path, environment: str, **role_vars: Any) -> Any:
    """The arm_deployment role's composed parameters (its ``parameters`` task file, run alone:
    no Azure call), or the failed run."""
    out = tmp_path / "parameters.json"
    playbook = tmp_path / "parameters.yml"
    role = {
        "arm_deployment_arm_dir": str(REPO_ROOT / "infra" / "arm"),
        "arm_deployment_parameter_file": str(
            REPO_ROOT / "infra" / "arm" / "parameters" / f"{environment}.parameters.json"
        ),
        "arm_deployment_secrets": SECRETS,
        "arm_deployment_keep_live_release": False,
        **role_vars,
    }
    local_playbook(
        playbook,
        "Parameters",
        tasks=[
            {
                "name": "Compose",
                "ansible.builtin.include_role": {
                    "name": "arm_deployment",
                    "tasks_from": "parameters",
                },
                "vars": role,
            },
            {
                "name": "Write",
                "ansible.builtin.copy": {
                    "content": "{{ arm_deployment_parameters | to_json }}",
                    "dest": str(out),
                    "mode": "0600",
                },
            },
        ],
    )
    result = run_playbook(
        str(playbook),
        inventory="localhost,",
        cwd=tmp_path,
        env={"ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles")},
    )
    return json.loads(out.read_text()) if result.returncode == 0 else result


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_arm_parameters_are_the_files_plus_secrets_and_release(
    tmp_path: Path, environment: str
) -> None:
    parameters = compose_parameters(
        tmp_path,
        environment,
        arm_deployment_image_reference=IMAGE,
        arm_deployment_build_id="0123abc",
        arm_deployment_extra_parameters={"workerCpuScaleThreshold": 60},
    )
    assert isinstance(parameters, dict), parameters.stdout
    from_file = load(REPO_ROOT / "infra" / "arm" / "parameters" / f"{environment}.parameters.json")
    expected = {
        **from_file["parameters"],
        **{name: {"value": value} for name, value in SECRETS.items()},
        "deployApps": {"value": True},
        # The digest only: main.json names the image in the environment's own registry.
        "imageDigest": {"value": IMAGE.split("@")[1]},
        "buildId": {"value": "0123abc"},
        "enableDefenderForContainers": {"value": False},
        "workerCpuScaleThreshold": {"value": 60},
    }
    assert parameters == expected
    declared = load(MAIN)["parameters"]
    assert {n for n, p in declared.items() if "defaultValue" not in p} <= set(parameters)


def test_the_first_run_deploys_no_apps_and_needs_no_image(tmp_path: Path) -> None:
    parameters = compose_parameters(tmp_path, "dev", arm_deployment_deploy_apps=False)
    assert isinstance(parameters, dict), parameters.stdout
    assert [parameters[n]["value"] for n in ("deployApps", "imageDigest", "buildId")] == [
        False,
        "none",
        "none",
    ]


@pytest.mark.parametrize(
    ("role_vars", "message"),
    [
        ({"arm_deployment_secrets": {"apiToken": "t" * 40}}, "arm_deployment_secrets must name"),
        ({}, "Deploying the apps needs an image by digest"),
        (
            {"arm_deployment_image_reference": "orderflow:latest", "arm_deployment_build_id": "x"},
            "Deploying the apps needs an image by digest",
        ),
        (
            {
                "arm_deployment_deploy_apps": False,
                "arm_deployment_extra_parameters": {"noSuchParameter": 1},
            },
            "unknown to main.json: noSuchParameter",
        ),
    ],
)
def test_incomplete_arm_parameters_are_refused_before_deploying(
    tmp_path: Path, role_vars: dict[str, Any], message: str
) -> None:
    result = compose_parameters(tmp_path, "dev", **role_vars)
    assert isinstance(result, subprocess.CompletedProcess)
    assert message in result.stdout, result.stdout


# --------------------------------------------------------------------------- Grafana


@dataclass
class Grafana:
    """A stand-in of the parts of Grafana's HTTP API the role uses."""

    token: str = "grafana-stand-in-token"
    folders: dict[str, str] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)


class GrafanaHandler(BaseHTTPRequestHandler):
    grafana: Grafana

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: HTTPStatus, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.grafana.token}":
            return True
        self._reply(HTTPStatus.UNAUTHORIZED, {"message": "Unauthorized"})
        return False

    def do_GET(self) -> None:
        if not self._authorised():
            return
        grafana = self.grafana
        if match := re.fullmatch(r"/api/folders/([\w-]+)", self.path):
            uid = match.group(1)
            if uid in grafana.folders:
                self._reply(HTTPStatus.OK, {"uid": uid, "title": grafana.folders[uid]})
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"message": "folder not found"})
        elif match := re.fullmatch(r"/api/dashboards/uid/([\w-]+)", self.path):
            stored = grafana.dashboards.get(match.group(1))
            if stored is None:
                self._reply(HTTPStatus.NOT_FOUND, {"message": "Dashboard not found"})
            else:
                self._reply(HTTPStatus.OK, stored)
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"message": "Not found"})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        grafana = self.grafana
        if self.path == "/api/folders":
            grafana.folders[body["uid"]] = body["title"]
            self._reply(HTTPStatus.OK, {"uid": body["uid"], "title": body["title"]})
        elif self.path == "/api/dashboards/db":
            dashboard, uid = body["dashboard"], body["dashboard"]["uid"]
            if body.get("folderUid") not in grafana.folders:
                self._reply(HTTPStatus.BAD_REQUEST, {"message": "folder not found"})
                return
            previous = grafana.dashboards.get(uid)
            version = previous["dashboard"]["version"] + 1 if previous else 1
            stored = {**dashboard, "id": len(grafana.dashboards) + 1, "version": version}
            grafana.dashboards[uid] = {
                "dashboard": stored,
                "meta": {"folderUid": body["folderUid"]},
            }
            grafana.imports.append(uid)
            self._reply(HTTPStatus.OK, {"uid": uid, "version": version, "status": "success"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"message": "Not found"})


@pytest.fixture
def grafana() -> Iterator[tuple[Grafana, str]]:
    state = Grafana()
    handler = type("BoundGrafanaHandler", (GrafanaHandler,), {"grafana": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def run_grafana_role(
    tmp_path: Path, url: str, token: str, *args: str
) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "grafana.yml"
    local_playbook(
        playbook,
        "Dashboards",
        roles=[
            {
                "role": "grafana_dashboards",
                "vars": {
                    "grafana_dashboards_url": url,
                    "grafana_dashboards_token": token,
                    "grafana_dashboards_files": [str(p) for p in DASHBOARDS],
                },
            }
        ],
    )
    return run_playbook(
        str(playbook),
        *args,
        inventory="localhost,",
        cwd=tmp_path,
        env={"ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles")},
    )


def test_grafana_dashboards_are_imported_once_and_kept_as_committed(
    grafana: tuple[Grafana, str], tmp_path: Path
) -> None:
    state, url = grafana
    assert len(DASHBOARDS) >= 6

    first = succeeded(run_grafana_role(tmp_path, url, state.token))
    assert first.changed == 2  # the folder, and the dashboards (one task)
    committed = {json.loads(p.read_text())["uid"]: json.loads(p.read_text()) for p in DASHBOARDS}
    assert sorted(state.imports) == sorted(committed)
    assert state.folders == {"orderflow": "Orderflow"}
    for uid, dashboard in committed.items():
        stored = state.dashboards[uid]
        assert stored["meta"]["folderUid"] == "orderflow"
        assert {k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")} == {
            k: v for k, v in dashboard.items() if k not in ("id", "version")
        }

    assert succeeded(run_grafana_role(tmp_path, url, state.token)).changed == 0
    assert len(state.imports) == len(committed)

    # Someone edits a dashboard in Grafana: the next run puts the committed one back, only it.
    edited = next(iter(committed))
    state.dashboards[edited]["dashboard"]["title"] = "edited by hand"
    assert succeeded(run_grafana_role(tmp_path, url, state.token)).changed == 1
    assert state.imports[len(committed) :] == [edited]
    assert state.dashboards[edited]["dashboard"]["title"] == committed[edited]["title"]


def test_grafana_role_fails_on_a_refused_token(
    grafana: tuple[Grafana, str], tmp_path: Path
) -> None:
    _, url = grafana
    result = run_grafana_role(tmp_path, url, "wrong-token")
    assert result.returncode != 0
    assert play_recap(result).failed == 1


# --------------------------------------------------------------------------- deploy / rollback

RECORDER = """#!/bin/sh
# Stand-in: records its name, arguments and the deploy settings it was given.
printf '%s|%s|%s|%s|%s\\n' "$(basename "$0")" "$*" "${DEPLOY_BUILD_ID:-}" \\
    "${DEPLOY_REGION:-}" "${DEPLOY_APP:-}" >> "$ORDERFLOW_TEST_CALLS"
[ "$(basename "$0")" != orderflow ] || echo "order.create.v1: registered version 2 (id x)"
"""
SCHEMA_ENDPOINT = "orderflow-dev-weu-evh-7b3kzh.servicebus.windows.net"
OUTPUTS = {
    "keyVaultName": "orderflowdevweukv7b3kzh",
    "schemaRegistryEndpoint": SCHEMA_ENDPOINT,
    "schemaGroupName": "orderflow",
}
# Stand-in of the Azure CLI: records each call (and the parameters file it was given), answers
# what the playbooks read. AZ_NO_DEPLOYMENT: the resource group has no deployment yet.
AZ = """#!{python}
import json, os, stat, sys
args = sys.argv[1:]
call = {{"argv": args}}
if "--parameters" in args:
    path = args[args.index("--parameters") + 1].lstrip("@")
    call["parameters"] = json.load(open(path))
    call["mode"] = stat.S_IMODE(os.stat(path).st_mode)
    call["path"] = path
with open(os.environ["AZ_CALLS"], "a") as log:
    log.write(json.dumps(call) + "\\n")
outputs = {outputs}
if args[:3] == ["deployment", "group", "show"]:
    if os.environ.get("AZ_NO_DEPLOYMENT"):
        sys.exit("ERROR: (DeploymentNotFound) Deployment 'orderflow' could not be found.")
    values = {{k: {{"type": "String", "value": v}} for k, v in outputs.items()}}
    print(json.dumps({{"state": "Succeeded", "outputs": values}}))
elif args[:2] == ["group", "exists"]:
    print("true")
elif args[:3] == ["deployment", "group", "what-if"]:
    print(json.dumps({{"status": "Succeeded", "changes": [
        {{"changeType": "Modify", "resourceId": "/subscriptions/s/resourceGroups/rg/x/api"}},
        {{"changeType": "NoChange", "resourceId": "/subscriptions/s/resourceGroups/rg/x/kv"}}]}}))
elif args[:2] == ["containerapp", "show"]:
    sys.exit(3)
"""


def stand_in_az(folder: Path, outputs: dict[str, str] | None = None) -> Path:
    az = folder / "az"
    az.write_text(AZ.format(python=sys.executable, outputs=json.dumps(outputs or OUTPUTS)))
    az.chmod(0o755)
    return folder / "az-calls.jsonl"


def az_calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def stand_in_scripts(tmp_path: Path) -> tuple[Path, Path]:
    """A scripts folder with deploy.sh and rollback.sh, and an ``orderflow`` CLI, recording."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name in ("deploy.sh", "rollback.sh", "orderflow"):
        script = scripts / name
        script.write_text(RECORDER)
        script.chmod(0o755)
    stand_in_az(scripts)
    return scripts, tmp_path / "calls.txt"


def run_azure_playbook(
    playbook: str, scripts: Path, calls: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_playbook(
        playbook,
        "-e",
        f"orderflow_deploy_scripts_dir={scripts}",
        "-e",
        f"orderflow_cli={scripts / 'orderflow'}",
        *extra,
        inventory="inventories/dev",
        env={
            "ORDERFLOW_TEST_CALLS": str(calls),
            "AZ_CALLS": str(scripts / "az-calls.jsonl"),
            "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}",
        },
    )


def recorded(calls: Path) -> list[list[str]]:
    return [line.split("|") for line in calls.read_text().splitlines()] if calls.exists() else []


def run_deploy(
    scripts: Path, calls: Path, image: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_azure_playbook(
        "deploy.yml",
        scripts,
        calls,
        "-e",
        f"orderflow_image={image}",
        "-e",
        "orderflow_build_id=0123abc",
        *extra,
    )


def test_deploy_publishes_the_schemas_then_runs_the_deploy_script_like_ci(
    stand_in_scripts: tuple[Path, Path],
) -> None:
    scripts, calls = stand_in_scripts
    assert succeeded(run_deploy(scripts, calls, IMAGE)).changed == 2
    assert recorded(calls) == [
        [
            "orderflow",
            f"schemas publish --endpoint {SCHEMA_ENDPOINT} --group orderflow",
            "",
            "",
            "",
        ],
        ["deploy.sh", f"dev {IMAGE}", "0123abc", "weu", "orderflow"],
    ]


@pytest.mark.parametrize(
    "image",
    ["orderflowdevweuacr.azurecr.io/orderflow:latest", "orderflow@sha256:short", ""],
)
def test_deploy_refuses_an_image_without_a_digest_before_running_anything(
    stand_in_scripts: tuple[Path, Path], image: str
) -> None:
    scripts, calls = stand_in_scripts
    result = run_deploy(scripts, calls, image)
    assert result.returncode != 0
    assert "Deploy an image by digest" in result.stdout
    assert recorded(calls) == []  # not even the schemas


def test_the_release_check_runs_whatever_the_tags(stand_in_scripts: tuple[Path, Path]) -> None:
    scripts, calls = stand_in_scripts
    result = run_deploy(scripts, calls, "orderflow:latest", "--tags", "rollout")
    assert result.returncode != 0
    assert "Deploy an image by digest" in result.stdout
    assert recorded(calls) == []
    assert succeeded(run_deploy(scripts, calls, IMAGE, "--tags", "rollout")).changed == 1
    assert [call[0] for call in recorded(calls)] == ["deploy.sh"]


def test_rollback_runs_the_rollback_script_like_ci(stand_in_scripts: tuple[Path, Path]) -> None:
    scripts, calls = stand_in_scripts
    assert succeeded(run_azure_playbook("rollback.yml", scripts, calls)).changed == 1
    assert recorded(calls) == [["rollback.sh", "dev", "", "weu", "orderflow"]]


def test_the_azure_playbooks_do_nothing_with_the_local_inventory(
    stand_in_scripts: tuple[Path, Path],
) -> None:
    scripts, calls = stand_in_scripts
    result = run_playbook(
        "rollback.yml",
        "-e",
        f"orderflow_deploy_scripts_dir={scripts}",
        env={"ORDERFLOW_TEST_CALLS": str(calls)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipping: no hosts matched" in result.stdout
    assert recorded(calls) == []


# --------------------------------------------------------------------------- ARM deployment


def run_arm_deployment(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """The arm_deployment role for dev, first run (no apps), against a stand-in Azure CLI."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    log = stand_in_az(folder)
    playbook = tmp_path / "arm.yml"
    local_playbook(
        playbook,
        "ARM",
        roles=[
            {
                "role": "arm_deployment",
                "vars": {
                    "arm_deployment_arm_dir": str(REPO_ROOT / "infra" / "arm"),
                    "arm_deployment_parameter_file": str(
                        REPO_ROOT / "infra/arm/parameters/dev.parameters.json"
                    ),
                    "arm_deployment_packed_template": str(tmp_path / "main.json"),
                    "arm_deployment_resource_group": "orderflow-dev-weu-rg",
                    "arm_deployment_location": "westeurope",
                    "arm_deployment_secrets": SECRETS,
                    "arm_deployment_deploy_apps": False,
                },
            }
        ],
    )
    result = run_playbook(
        str(playbook),
        *args,
        inventory="localhost,",
        cwd=tmp_path,
        env={
            "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"),
            "AZ_CALLS": str(log),
            "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
            **(env or {}),
        },
    )
    return result, az_calls(log)


def az_commands(calls: list[dict[str, Any]]) -> list[list[str]]:
    return [call["argv"][:3] for call in calls]


def test_check_mode_previews_the_deployment_with_what_if_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """M2: azure_rm_deployment had no check mode; --check now runs az's what-if."""
    result, calls = run_arm_deployment(tmp_path, "--check")
    recap = succeeded(result)
    assert az_commands(calls) == [
        ["group", "exists", "--name"],
        ["deployment", "group", "what-if"],
        ["deployment", "group", "show"],
    ]
    what_if = calls[1]
    assert what_if["argv"][3:7] == [
        "--resource-group",
        "orderflow-dev-weu-rg",
        "--name",
        "orderflow",
    ]
    assert what_if["argv"][7:9] == ["--template-file", str(tmp_path / "main.json")]
    # The parameters, secrets included, reached the CLI in an owner-only file, gone afterwards.
    assert what_if["mode"] == 0o600
    assert not Path(what_if["path"]).exists()
    assert what_if["parameters"]["parameters"]["apiToken"] == {"value": SECRETS["apiToken"]}
    assert what_if["parameters"]["parameters"]["deployApps"] == {"value": False}
    assert "Modify /subscriptions/s/resourceGroups/rg/x/api" in result.stdout
    assert "NoChange" not in result.stdout
    assert recap.changed >= 1  # what-if found a change


def test_a_run_deploys_incrementally_with_the_cli_and_reads_the_outputs(tmp_path: Path) -> None:
    result, calls = run_arm_deployment(tmp_path)
    succeeded(result)
    assert az_commands(calls) == [
        ["group", "exists", "--name"],
        ["deployment", "group", "create"],
        ["deployment", "group", "show"],
    ]
    create = calls[1]["argv"]
    assert create[-4:] == ["--mode", "Incremental", "--output", "none"]
    assert calls[1]["mode"] == 0o600
    assert not Path(calls[1]["path"]).exists()
    assert json.loads((tmp_path / "main.json").read_text())["parameters"]["imageDigest"]


def test_the_outputs_before_a_first_deployment_are_empty_not_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    log = stand_in_az(folder)
    playbook = tmp_path / "outputs.yml"
    local_playbook(
        playbook,
        "Outputs",
        tasks=[
            {
                "name": "Read",
                "ansible.builtin.include_role": {
                    "name": "arm_deployment",
                    "tasks_from": "outputs",
                },
                "vars": {
                    "arm_deployment_resource_group": "rg",
                    "arm_deployment_outputs_optional": True,
                },
            },
            {
                "name": "Show",
                "ansible.builtin.debug": {"msg": "outputs={{ arm_deployment_outputs }}"},
            },
        ],
    )
    env = {
        "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"),
        "AZ_CALLS": str(log),
        "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
    }
    first = run_playbook(
        str(playbook), inventory="localhost,", cwd=tmp_path, env={**env, "AZ_NO_DEPLOYMENT": "1"}
    )
    succeeded(first)
    assert "outputs={}" in first.stdout
    later = run_playbook(str(playbook), inventory="localhost,", cwd=tmp_path, env=env)
    succeeded(later)
    assert "'keyVaultName': 'orderflowdevweukv7b3kzh'" in later.stdout


def test_grafana_check_mode_reads_and_writes_nothing(
    grafana: tuple[Grafana, str], tmp_path: Path
) -> None:
    """M2: the reads run in check mode, so the writes know what they would do, and skip."""
    state, url = grafana
    playbook_result = run_grafana_role(tmp_path, url, state.token, "--check")
    succeeded(playbook_result)
    assert "skipping: [localhost]" in playbook_result.stdout  # the writes
    assert state.folders == {}
    assert state.imports == []
