"""The deploy scripts, run for real against a model of the Azure state they act on.

``az``, ``temporal``, ``curl`` and ``orderflow`` are replaced on ``PATH`` by
tests/infra/fake_az/cloud.py, which keeps the state of one environment and changes it the way
the real commands do. Each test starts from a state Azure really returns - what ARM leaves
behind (traffic ``latestRevision: true`` without a revision name, one revision per app), a first
revision that failed to provision, a rollout stopped half-way - and checks what the scripts did
to it: where the traffic went and when, which revisions stay active, what a rollback after real
deployments restores. The names, outputs and Key Vault secrets of the model come from the ARM
templates (tests/infra/arm_support.py), so a script reading something ARM never writes fails here.
"""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.tools import REPO_ROOT, tool
from tests.infra.arm_support import main_context

DEPLOY_DIR = REPO_ROOT / "scripts" / "deploy"
CLOUD = Path(__file__).parent / "fake_az" / "cloud.py"
FAKED = ("az", "temporal", "curl", "orderflow")

ENV = "dev"
NAMES = main_context(ENV).variable("names")
RG, API, WORKER, BRIDGE, JOB = (
    NAMES[k] for k in ("resourceGroup", "api", "worker", "bridge", "setup")
)
REGISTRY = NAMES["registry"]
SERVER = f"{REGISTRY}.azurecr.io"
REPOSITORY = main_context(ENV).variable("imageRepository")
DOMAIN = "kindtree-1a2b3c4d.westeurope.azurecontainerapps.io"
SOURCE = "ghcr.io/acme/orderflow"
BUILD_ID_SETTING = "ORDERFLOW_WORKER__BUILD_ID"


@dataclass(frozen=True)
class Release:
    """One built image: its digest and build ID (the git SHA)."""

    digest: str
    build_id: str

    @property
    def suffix(self) -> str:
        return f"g{self.build_id[:7]}"

    @property
    def source(self) -> str:
        return f"{SOURCE}@{self.digest}"

    @property
    def image(self) -> str:
        """The image as this environment's apps run it: from its own registry."""
        return f"{SERVER}/{REPOSITORY}@{self.digest}"

    def revision(self, app: str = API) -> str:
        return f"{app}--{self.suffix}"


def release(byte: str, build: str) -> Release:
    return Release("sha256:" + byte * 32, build * 40)


INITIAL = release("a0", "0")  # what ARM deployed first
A = release("a1", "1")
B = release("b2", "2")
ARM_REVISION = f"{API}--arm7x1q"  # ARM names the first revision with a random suffix


def deployer_secrets(mode: str) -> dict[str, str]:
    """The secrets ARM writes that the deployer identity may read, with made-up values."""
    names = main_context(ENV, temporalAuthMode=mode).variable("secretNames")["deployer"]
    return {name: f"{name}-value" for name in names}


def revision(
    name: str, image: str, env: list[dict[str, str]], state: str = "Provisioned"
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "env": env,
        "active": True,
        "provisioningState": state,
        "createdTime": "2025-12-31T00:00:00Z",
    }


def arm_first_deployment(mode: str = "apiKey", first_state: str = "Provisioned") -> dict[str, Any]:
    """The environment as ARM leaves it after its first deployment with the apps."""
    temporal = [
        {"name": "ORDERFLOW_TEMPORAL__ADDRESS", "value": "orderflow-dev.acct.tmprl.cloud:7233"},
        {"name": "ORDERFLOW_TEMPORAL__NAMESPACE", "value": "orderflow-dev.acct"},
    ]
    if mode == "mtls":
        temporal.append({"name": "ORDERFLOW_TEMPORAL__TLS", "value": "true"})

    def app(name: str, mode_: str, ingress: bool, env: list[dict[str, str]]) -> dict[str, Any]:
        first = revision(f"{name}--arm7x1q", INITIAL.image, env, first_state)
        ready = first_state == "Provisioned"
        return {
            "mode": mode_,
            "ingress": ingress,
            "registry": SERVER,
            "identity": f"/identities/{name}-id",
            # ARM's apiTraffic default: all traffic to "latest", no revision name.
            "traffic": [{"latestRevision": True, "weight": 100}] if ingress else [],
            "revisions": [first],
            "latestRevisionName": first["name"],
            "latestReadyRevisionName": first["name"] if ready else "",
        }

    worker_env = [*temporal, {"name": BUILD_ID_SETTING, "value": INITIAL.build_id}]
    return {
        "clock": 0,
        "resourceGroup": RG,
        "domain": DOMAIN,
        "apiApp": API,
        "workerApp": WORKER,
        "outputs": {
            "keyVaultName": NAMES["keyVault"],
            "registryName": REGISTRY,
            "registryLoginServer": SERVER,
            "imageRepository": REPOSITORY,
            "eventHubsNamespaceName": NAMES["eventHubs"],
            "kafkaBootstrapServers": f"{NAMES['eventHubs']}.servicebus.windows.net:9093",
        },
        "registries": {
            REGISTRY: {"loginServer": SERVER, "manifests": {REPOSITORY: {INITIAL.digest: ["0"]}}}
        },
        "sources": {
            r.source: {"username": "github-actor", "password": "github-token"} for r in (A, B)
        },
        "keyVaults": {NAMES["keyVault"]: deployer_secrets(mode)},
        "apps": {
            API: app(API, "Multiple", True, temporal),
            WORKER: app(WORKER, "Single", False, worker_env),
            BRIDGE: app(BRIDGE, "Single", False, temporal),
        },
        "jobs": {JOB: {"image": INITIAL.image, "registry": SERVER, "executions": {}}},
        "failingImages": [],  # revisions of these images fail to provision
        "failingSetup": [],  # the setup job fails with these images
        "brokenImages": [],  # revisions of these images never answer ready
        "requests": [],
        "orders": {},
        "temporal": {"versions": {INITIAL.build_id: 2}, "current": INITIAL.build_id},
    }


@dataclass
class Call:
    tool: str
    argv: list[str]
    stdin: str = ""


class World:
    """One environment's state and the scripts run against it."""

    def __init__(self, root: Path, state: dict[str, Any]) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(exist_ok=True)
        for name in FAKED:
            wrapper = self.bin / name
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{CLOUD}" {name} "$@"\n')
            wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        self.state_path = root / "state.json"
        self.state_path.write_text(json.dumps(state))
        self.log = root / "calls.jsonl"

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_path.read_text())
        return state

    def change(self, **entries: Any) -> None:
        state = self.state
        state.update(entries)
        self.state_path.write_text(json.dumps(state))

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        self.log.unlink(missing_ok=True)
        path = [str(self.bin), str(Path(sys.executable).parent), "/usr/bin", "/bin"]
        environment = {
            "PATH": os.pathsep.join(path),
            "HOME": str(self.root),
            "FAKE_LOG": str(self.log),
            "FAKE_STATE": str(self.state_path),
            "DEPLOY_POLL_S": "0",
            "DEPLOY_WAIT_ATTEMPTS": "3",
            "DEPLOY_SOURCE_USERNAME": "github-actor",
            "DEPLOY_SOURCE_PASSWORD": "github-token",
            "SMOKE_ORDER_ID": "smoke-test-0001",
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

    def deploy(
        self, target: Release, environment: str = ENV, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "deploy.sh", environment, target.source, DEPLOY_BUILD_ID=target.build_id, **env
        )

    def calls(self) -> list[Call]:
        if not self.log.exists():
            return []
        return [Call(**json.loads(line)) for line in self.log.read_text().splitlines()]

    def commands(self) -> list[list[str]]:
        return [[call.tool, *call.argv] for call in self.calls()]

    # --- reading the state -----------------------------------------------------------------

    def app(self, name: str = API) -> dict[str, Any]:
        app: dict[str, Any] = self.state["apps"][name]
        return app

    def weights(self) -> dict[str, int]:
        """Each api revision's share of the traffic, resolving ``latestRevision``."""
        app = self.app()
        shares = dict.fromkeys((r["name"] for r in app["revisions"]), 0)
        for entry in app["traffic"]:
            target = (
                app["latestRevisionName"] if entry.get("latestRevision") else entry["revisionName"]
            )
            shares[target] += entry["weight"]
        return {name: share for name, share in shares.items() if share}

    def labels(self) -> dict[str, str]:
        return {t["label"]: t["revisionName"] for t in self.app()["traffic"] if "label" in t}

    def active(self, name: str = API) -> set[str]:
        return {r["name"] for r in self.app(name)["revisions"] if r["active"]}

    def running_image(self, name: str) -> str:
        app = self.app(name)
        (running,) = [r for r in app["revisions"] if r["active"]]
        return str(running["image"])


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, arm_first_deployment())


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0, result.stderr
    assert message in result.stderr


def unchanged_since_arm(world: World) -> None:
    """The api as ARM left it: its first revision alone, with all the traffic."""
    assert world.weights() == {ARM_REVISION: 100}
    assert world.active() == {ARM_REVISION}


# --------------------------------------------------------------------- blue-green from real states


def test_the_first_deployment_starts_from_the_state_arm_leaves(world: World) -> None:
    """B5: traffic `latestRevision: true` names no revision; the latest ready one serves."""
    assert world.weights() == {ARM_REVISION: 100}
    assert all("revisionName" not in t for t in world.app()["traffic"])
    ok(world.deploy(A))
    assert world.weights() == {A.revision(): 100}
    assert world.labels() == {"previous": ARM_REVISION, "candidate": A.revision()}
    assert world.active() == {ARM_REVISION, A.revision()}
    assert world.state["temporal"]["current"] == A.build_id
    assert world.running_image(WORKER) == A.image
    assert world.running_image(BRIDGE) == A.image


def test_the_new_revision_takes_no_traffic_before_its_smoke_test_passed(world: World) -> None:
    ok(world.deploy(A))
    requests = world.state["requests"]
    candidate = f"https://{API}---candidate.{DOMAIN}/health/ready"
    smoke = [r for r in requests if r["url"] == candidate]
    assert smoke, requests
    for request in smoke:
        assert request["revision"] == A.revision()
        assert request["weights"][A.revision()] == 0
        assert request["weights"][ARM_REVISION] == 100
    # Traffic was pinned to the serving revision by name before the new one existed.
    commands = world.commands()
    pin = commands.index(
        [
            "az",
            "containerapp",
            "ingress",
            "traffic",
            "set",
            "-n",
            API,
            "-g",
            RG,
            "--revision-weight",
            f"{ARM_REVISION}=100",
        ]
    )
    create = next(
        i for i, c in enumerate(commands) if c[:3] == ["az", "containerapp", "update"] and API in c
    )
    assert pin < create


def test_rollback_after_two_real_deployments_and_forward_again(world: World) -> None:
    ok(world.deploy(A))
    ok(world.deploy(B))
    assert world.weights() == {B.revision(): 100}
    assert world.labels()["previous"] == A.revision()
    assert world.active() == {A.revision(), B.revision()}  # the ARM revision was retired

    ok(world.run("rollback.sh", ENV))
    assert world.weights() == {A.revision(): 100}
    assert world.labels()["previous"] == B.revision()
    assert world.running_image(WORKER) == A.image
    assert world.running_image(BRIDGE) == A.image
    assert world.state["temporal"]["current"] == A.build_id
    worker = world.app(WORKER)
    running = next(r for r in worker["revisions"] if r["active"])
    assert {"name": BUILD_ID_SETTING, "value": A.build_id} in running["env"]

    ok(world.run("rollback.sh", ENV))  # twice rolls forward
    assert world.weights() == {B.revision(): 100}
    assert world.labels()["previous"] == A.revision()
    assert world.state["temporal"]["current"] == B.build_id


def test_rollback_after_the_first_deployment_returns_to_the_revision_arm_created(
    world: World,
) -> None:
    ok(world.deploy(A))
    ok(world.run("rollback.sh", ENV))
    assert world.weights() == {ARM_REVISION: 100}
    assert world.running_image(WORKER) == INITIAL.image
    assert world.state["temporal"]["current"] == INITIAL.build_id


def test_a_failed_smoke_never_deactivates_the_serving_revision(world: World) -> None:
    ok(world.deploy(A))
    world.change(brokenImages=[B.image])
    result = world.deploy(B)
    assert result.returncode != 0
    assert "smoke test of" in result.stderr
    assert world.weights() == {A.revision(): 100}
    assert A.revision() in world.active()
    assert B.revision() not in world.active()
    assert world.labels()["previous"] == ARM_REVISION  # untouched
    assert world.running_image(WORKER) == A.image
    assert world.running_image(BRIDGE) == A.image
    assert world.state["temporal"]["current"] == A.build_id


def test_a_failed_smoke_on_the_first_deployment_keeps_the_revision_arm_created(
    world: World,
) -> None:
    world.change(brokenImages=[A.image])
    refused(world.deploy(A), "smoke test of")
    unchanged_since_arm(world)


def test_a_revision_that_fails_to_provision_never_gets_traffic(world: World) -> None:
    world.change(failingImages=[A.image])
    refused(world.deploy(A), "was not provisioned")
    unchanged_since_arm(world)
    assert [r for r in world.state["requests"] if "candidate" in r["url"]] == []


def test_after_a_failed_first_provision_the_first_release_takes_the_traffic(tmp_path: Path) -> None:
    """ARM's revision never became ready: nothing serves, nothing to pin or to roll back to."""
    world = World(tmp_path, arm_first_deployment(first_state="Failed"))
    assert world.app()["latestReadyRevisionName"] == ""
    ok(world.deploy(A))
    assert world.weights() == {A.revision(): 100}
    assert {t.get("revisionName") for t in world.app()["traffic"] if t["weight"]} == {A.revision()}
    assert "previous" not in world.labels()
    result = world.run("rollback.sh", ENV)
    assert result.returncode != 0
    assert "nothing to roll back to" in result.stderr
    assert world.weights() == {A.revision(): 100}


def test_split_traffic_is_left_alone(world: World) -> None:
    ok(world.deploy(A))
    api = world.app()
    api["traffic"] = [
        {"revisionName": ARM_REVISION, "weight": 50},
        {"revisionName": A.revision(), "weight": 50, "label": "previous"},
    ]
    world.change(apps={**world.state["apps"], API: api})
    for script, args in (("deploy.sh", (ENV, B.source)), ("rollback.sh", (ENV,))):
        result = world.run(script, *args, DEPLOY_BUILD_ID=B.build_id)
        assert result.returncode != 0
        assert "split" in result.stderr
        assert world.weights() == {ARM_REVISION: 50, A.revision(): 50}


# --------------------------------------------------------------------- the registry model (B1, B2)


def test_the_release_is_imported_into_this_environments_registry_and_run_from_there(
    world: World,
) -> None:
    ok(world.deploy(A))
    commands = world.commands()
    imports = [c for c in commands if c[:3] == ["az", "acr", "import"]]
    assert imports == [acr_import(A)]
    assert commands.index(imports[0]) < next(i for i, c in enumerate(commands) if "job" in c)
    images = {
        c[c.index("--image") + 1]
        for c in commands
        if c[:2] == ["az", "containerapp"] and "--image" in c
    }
    assert images == {A.image}
    assert world.state["registries"][REGISTRY]["manifests"][REPOSITORY][A.digest] == [A.build_id]


def test_a_release_the_registry_cannot_import_changes_nothing(world: World) -> None:
    unknown = release("cc", "3")
    result = world.deploy(unknown)
    assert result.returncode != 0
    assert f"could not import {unknown.source}" in result.stderr
    assert [c for c in world.commands() if c[:2] == ["az", "containerapp"]] == []


def test_an_image_already_in_the_registry_is_not_imported_again(world: World) -> None:
    result = world.run("deploy.sh", ENV, INITIAL.image, DEPLOY_BUILD_ID="4" * 40)
    ok(result)
    assert [c for c in world.commands() if c[:3] == ["az", "acr", "import"]] == []


@pytest.mark.parametrize("mode", ["apiKey", "mtls"])
def test_the_scripts_read_only_secrets_arm_writes_for_the_deployer(
    tmp_path: Path, mode: str
) -> None:
    """B3, B6: the Key Vault of the model holds exactly the deployer's secrets of ARM."""
    world = World(tmp_path, arm_first_deployment(mode))

    def secrets_read() -> set[str]:
        keyvault = [c for c in world.commands() if c[:3] == ["az", "keyvault", "secret"]]
        return {c[c.index("--name") + 1] for c in keyvault}

    ok(world.deploy(A))
    read = secrets_read()
    ok(world.run("rollback.sh", ENV))
    assert read | secrets_read() == set(deployer_secrets(mode))


def test_the_smoke_order_is_valid_and_the_token_stays_off_command_lines(world: World) -> None:
    ok(world.deploy(A))
    calls = world.calls()
    produced = [json.loads(c.stdin) for c in calls if c.tool == "orderflow"]
    assert [o["OrderID"] for o in produced] == ["smoke-test-0001"] * 2
    assert produced[0]["ShipFromLocationID"] == "SMOKE"
    secrets = deployer_secrets("apiKey").values()
    assert all(s not in " ".join(c.argv) for c in calls for s in secrets)
    curl_inputs = {c.stdin for c in calls if c.tool == "curl"}
    assert "Authorization: Bearer api-token-value\n" in curl_inputs


# --------------------------------------------------------------------- the exact sequence


def acr_import(target: Release) -> list[str]:
    source = ("--source", target.source, "--image", f"{REPOSITORY}:{target.build_id}", "--force")
    login = ("--username", "github-actor", "--password", "github-token")
    return ["az", "acr", "import", "--name", REGISTRY, *source, *login]


def ca(sub: str, app: str, *rest: str) -> list[str]:
    """``az containerapp SUB -n APP -g RG REST…`` (SUB may be several words)."""
    return ["az", "containerapp", *sub.split(), "-n", app, "-g", RG, *rest]


def tsv(query: str) -> tuple[str, ...]:
    return ("--query", query, "-o", "tsv")


def kv(secret: str) -> list[str]:
    return [
        "az",
        "keyvault",
        "secret",
        "show",
        "--vault-name",
        NAMES["keyVault"],
        "--name",
        secret,
        *tsv("value"),
    ]


SERVING_Q = (
    "{traffic: properties.configuration.ingress.traffic, "
    "latestReady: properties.latestReadyRevisionName}"
)
FQDN_Q = "properties.configuration.ingress.fqdn"
ENV_Q = "properties.template.containers[0].env[?name=='{}'].value | [0]"


def curl_ready(host: str) -> list[str]:
    return ["curl", "-fsS", "--max-time", "10", "-o", "/dev/null", f"https://{host}/health/ready"]


def curl_order(host: str) -> list[str]:
    return [
        "curl",
        "-fsS",
        "--max-time",
        "10",
        "-H",
        "@-",
        f"https://{host}/orders/smoke-test-0001",
    ]


def smoke_with_order(host: str) -> list[list[str]]:
    """Ready, the two secrets, the order, and two looks at it (Open on the second)."""
    return [
        curl_ready(host),
        kv("api-token"),
        kv("kafka-sasl-password-smoke"),
        ["orderflow", "produce", "-"],
        curl_order(host),
        curl_order(host),
    ]


def describe_version(build_id: str) -> list[str]:
    return [
        "temporal",
        "worker",
        "deployment",
        "describe-version",
        "--deployment-name",
        "orderflow",
        "--build-id",
        build_id,
        "-o",
        "json",
    ]


def test_the_exact_sequence_of_a_second_deployment(world: World) -> None:
    ok(world.deploy(A))
    ok(world.deploy(B))
    execution = f"{JOB}-x2"
    poll_setup = ca(
        "job execution show", JOB, "--job-execution-name", execution, *tsv("properties.status")
    )
    candidate_host = f"{API}---candidate.{DOMAIN}"
    app_host = f"{API}.{DOMAIN}"
    new, old = B.revision(), A.revision()
    assert world.commands() == [
        [
            "az",
            "deployment",
            "group",
            "show",
            "-g",
            RG,
            "-n",
            "orderflow",
            "--query",
            "properties.outputs",
            "-o",
            "json",
        ],
        # 0. the digest into this environment's registry, and read back from it
        acr_import(B),
        [
            "az",
            "acr",
            "manifest",
            "show-metadata",
            "--registry",
            REGISTRY,
            "--name",
            f"{REPOSITORY}@{B.digest}",
            *tsv("digest"),
        ],
        ca("show", WORKER, *tsv(ENV_Q.format("ORDERFLOW_TEMPORAL__ADDRESS"))),
        ca("show", WORKER, *tsv(ENV_Q.format("ORDERFLOW_TEMPORAL__NAMESPACE"))),
        ca("show", WORKER, *tsv(ENV_Q.format("ORDERFLOW_TEMPORAL__TLS"))),
        kv("temporal-api-key"),
        # 1. the setup job runs the new image, polled until it succeeded
        ca("job update", JOB, "--image", B.image),
        ca("job start", JOB, *tsv("name")),
        poll_setup,
        poll_setup,
        # 2. API: traffic pinned by name, new revision at 0 %, provisioned, labelled, smoke-tested
        ca("show", API, "--query", SERVING_Q, "-o", "json"),
        ca("ingress traffic set", API, "--revision-weight", f"{old}=100"),
        ca("update", API, "--image", B.image, "--revision-suffix", B.suffix),
        ca("revision show", API, "--revision", new, *tsv("properties.provisioningState")),
        ca("revision show", API, "--revision", new, *tsv("properties.provisioningState")),
        ca("revision label add", API, "--label", "candidate", "--revision", new, "--yes"),
        ca("show", API, *tsv(FQDN_Q)),
        *smoke_with_order(candidate_host),
        # 3. traffic switch; the old revision is `previous`, older ones are deactivated
        ca("ingress traffic set", API, "--revision-weight", f"{new}=100", f"{old}=0"),
        ca("revision label add", API, "--label", "previous", "--revision", old, "--yes"),
        ca(
            "revision list",
            API,
            *tsv(f"[?properties.active && name!='{new}' && name!='{old}'].name"),
        ),
        ca("revision deactivate", API, "--revision", ARM_REVISION),
        # 4. worker, then its Temporal version becomes current once its workers poll
        ca(
            "update",
            WORKER,
            "--image",
            B.image,
            "--revision-suffix",
            B.suffix,
            "--set-env-vars",
            f"{BUILD_ID_SETTING}={B.build_id}",
        ),
        describe_version(B.build_id),
        describe_version(B.build_id),
        [
            "temporal",
            "worker",
            "deployment",
            "set-current-version",
            "--deployment-name",
            "orderflow",
            "--build-id",
            B.build_id,
            "--yes",
        ],
        # 5. bridge
        ca("update", BRIDGE, "--image", B.image, "--revision-suffix", B.suffix),
        # 6. the whole pipeline through the app's own URL
        ca("show", API, *tsv(FQDN_Q)),
        *smoke_with_order(app_host),
    ]


# --------------------------------------------------------------------- failures and settings


def test_a_failed_setup_job_changes_nothing_else(world: World) -> None:
    world.change(failingSetup=[A.image])
    refused(world.deploy(A), "setup job")
    unchanged_since_arm(world)
    changes = [
        c for c in world.commands() if c[:3] == ["az", "containerapp", "update"] or "traffic" in c
    ]
    assert changes == []
    assert world.state["temporal"]["current"] == INITIAL.build_id


def test_a_worker_version_that_never_polls_is_not_made_current(world: World) -> None:
    state = world.state
    state["apps"][WORKER]["registry"] = "elsewhere.azurecr.io"  # the new worker cannot pull
    world.change(apps=state["apps"])
    result = world.deploy(A)
    assert result.returncode != 0
    commands = world.commands()
    assert commands[-3:] == [describe_version(A.build_id)] * 3
    assert [c for c in commands if "set-current-version" in c or BRIDGE in c] == []
    assert world.state["temporal"]["current"] == INITIAL.build_id


def test_prod_smoke_checks_readiness_only(tmp_path: Path) -> None:
    names = main_context("prod").variable("names")
    state = arm_first_deployment()
    state = json.loads(json.dumps(state).replace("orderflow-dev-weu", "orderflow-prod-weu"))
    state["resourceGroup"] = names["resourceGroup"]
    world = World(tmp_path, state)
    result = world.deploy(A, environment="prod")
    ok(result)
    commands = world.commands()
    assert [c for c in commands if c[0] == "orderflow" or "api-token" in c] == []
    assert [c[-1] for c in commands if c[0] == "curl"] == [
        f"https://orderflow-prod-weu-api---candidate.{DOMAIN}/health/ready",
        f"https://orderflow-prod-weu-api.{DOMAIN}/health/ready",
    ]


def test_a_rerun_gets_its_own_revision_suffix(world: World) -> None:
    ok(world.deploy(A, GITHUB_RUN_ATTEMPT="2"))
    assert world.weights() == {f"{API}--{A.suffix}-2": 100}


def test_the_same_suffix_twice_is_refused_before_any_change(world: World) -> None:
    ok(world.deploy(A))
    before = copy.deepcopy(world.state["apps"])
    result = world.deploy(A)
    assert result.returncode != 0
    assert "already serves" in result.stderr
    assert world.state["apps"][API]["traffic"] == before[API]["traffic"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((ENV, f"{SERVER}/orderflow:latest"), "by digest"),
        ((ENV, f"{SERVER}/orderflow@sha256:abc"), "by digest"),
        (("qa", A.source), "dev, staging or prod"),
        ((ENV,), "usage"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(
    world: World, args: tuple[str, ...], message: str
) -> None:
    result = world.run("deploy.sh", *args, DEPLOY_BUILD_ID=A.build_id)
    assert result.returncode != 0
    assert message in result.stderr
    assert world.calls() == []


def test_rollback_without_versioning_skips_temporal(world: World) -> None:
    ok(world.deploy(A))
    ok(world.run("rollback.sh", ENV, DEPLOY_TEMPORAL_VERSIONING="false"))
    assert [c for c in world.commands() if c[0] == "temporal" or "keyvault" in c] == []
    assert world.state["temporal"]["current"] == A.build_id  # left to the operator


def test_the_temporal_connection_can_be_given(world: World) -> None:
    result = world.deploy(
        A,
        TEMPORAL_ADDRESS="elsewhere.tmprl.cloud:7233",
        TEMPORAL_NAMESPACE="elsewhere",
        TEMPORAL_API_KEY="temporal-api-key-value",
    )
    ok(result)
    assert [
        c for c in world.commands() if c[:2] == ["az", "keyvault"] and "temporal-api-key" in c
    ] == []
    assert [c for c in world.commands() if ENV_Q.format("ORDERFLOW_TEMPORAL__ADDRESS") in c] == []


# --------------------------------------------------------------------- static checks


def test_shellcheck_passes() -> None:
    scripts = [str(path) for path in sorted(DEPLOY_DIR.glob("*.sh"))]
    scripts += [str(REPO_ROOT / "scripts" / name) for name in ("lock.sh", "image-check.sh")]
    scripts += [str(path) for path in sorted((REPO_ROOT / "infra" / "runner").glob("*.sh"))]
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
