"""One delivery path across the ARM templates, the workflows, the deploy scripts and the runner
image (decisions 0014-0016): the image every revision uses is the digest the pipeline built,
imported into that environment's registry, and every job that touches an environment's private
resources runs on that environment's runner, logged in as its deployer.

The ARM side alone is in test_arm_delivery.py; the scripts against a model of Azure in
test_deploy.py.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.tools import REPO_ROOT
from tests.infra.arm_support import ENVIRONMENTS, main_context

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
DEPLOY_DIR = REPO_ROOT / "scripts" / "deploy"
RUNNER_DIR = REPO_ROOT / "infra" / "runner"


def workflow(name: str) -> dict[Any, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    if True in document:  # YAML 1.1 reads the key `on` as True
        document["on"] = document.pop(True)
    return document


def script_default(name: str, setting: str) -> str:
    """The default a deploy script gives a setting: ``${SETTING:-default}``."""
    text = (DEPLOY_DIR / name).read_text(encoding="utf-8")
    defaults: set[str] = set(re.findall(rf"\${{{setting}:-([^}}]+)}}", text))
    assert len(defaults) == 1, (setting, defaults)
    return defaults.pop()


# --------------------------------------------------------------------- one registry model


def test_the_pipeline_builds_one_image_and_no_job_pushes_to_an_environments_registry():
    """B1: nothing pushes to an Azure registry (whose data endpoint is private); the one image
    goes to GitHub's registry, and each environment imports its digest."""
    deploy = workflow("deploy.yml")
    build = deploy["jobs"]["build"]
    naming = next(s for s in build["steps"] if s.get("name") == "Name the image")
    assert re.search(r"IMAGE=ghcr\.io/\$\{OWNER,,\}/orderflow:\$COMMIT", naming["run"])
    assert build["permissions"] == {"contents": "read", "packages": "write"}
    every_workflow = "".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    assert "azurecr.io" not in every_workflow
    assert "acr login" not in every_workflow
    for name in ("dev", "staging", "prod"):
        job = deploy["jobs"][name]
        assert job["with"]["image"] == "${{ needs.build.outputs.image }}"
        assert job["with"]["build-id"] == "${{ needs.build.outputs.build-id }}"
        assert job["permissions"]["packages"] == "read"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_image_every_revision_uses_is_the_built_digest_in_this_environments_registry(
    environment: str,
):
    """B2: the repository the pipeline pushes is the one ARM names the apps' image in, the
    scripts import into the registry ARM's outputs name, and the revisions' image is composed
    from those outputs, never passed through from another registry."""
    main = main_context(environment)
    repository = main.variable("imageRepository")
    assert repository == "orderflow"
    outputs = main.template["outputs"]
    assert main.value(outputs["imageRepository"]["value"]) == repository
    assert {"registryName", "registryLoginServer", "keyVaultName"} <= set(outputs)
    deploy = (DEPLOY_DIR / "deploy.sh").read_text(encoding="utf-8")
    assert 'image="${REGISTRY_SERVER}/${IMAGE_REPOSITORY}@${digest}"' in deploy
    assert 'az acr import --name "$REGISTRY" --source "$source_image"' in deploy
    lib = (DEPLOY_DIR / "lib.sh").read_text(encoding="utf-8")
    for output in ("keyVaultName", "registryName", "registryLoginServer", "imageRepository"):
        assert f'"{output}"' in lib, output
    # Every --image the scripts give Azure is that composed image, or one of the app's own history.
    revisions = [line for line in deploy.splitlines() if "az containerapp" in line]
    images = set(re.findall(r'--image "(\$[^"]+)"', "\n".join(revisions)))
    assert images == {"$image"}
    rollback = (DEPLOY_DIR / "rollback.sh").read_text(encoding="utf-8")
    assert set(re.findall(r'--image "(\$[^"]+)"', rollback)) <= {
        "$worker_image",
        "${bridge_release%%$'\\t'*}",
    }


# --------------------------------------------------------------------- runners and identity


@pytest.mark.parametrize("name", ["deploy-environment.yml", "rollback.yml"])
def test_jobs_that_touch_an_environment_run_on_its_runner_as_its_deployer(name: str):
    (job,) = workflow(name)["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "orderflow-${{ inputs.environment }}"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["permissions"]["id-token"] == "write"
    login = next(s for s in job["steps"] if "azure/login@" in s.get("uses", ""))
    assert login["with"]["client-id"] == "${{ secrets.AZURE_CLIENT_ID }}"
    for environment in ENVIRONMENTS:
        main = main_context(environment)
        label = main.value(main.template["outputs"]["runnerLabel"]["value"])
        assert label == job["runs-on"][1].replace("${{ inputs.environment }}", environment)


def test_no_github_hosted_job_runs_a_deploy_script():
    for path in WORKFLOWS.glob("*.yml"):
        for job in workflow(path.name).get("jobs", {}).values():
            runs = " ".join(step.get("run", "") for step in job.get("steps", []))
            if "scripts/deploy/" in runs:
                assert "self-hosted" in job["runs-on"], path.name


def test_the_deploy_scripts_default_to_the_arm_deployment_ansible_and_the_runbook_use():
    defaults = (REPO_ROOT / "infra/ansible/roles/arm_deployment/defaults/main.yml").read_text()
    assert re.search(r"^arm_deployment_name: orderflow$", defaults, re.M)
    assert script_default("lib.sh", "DEPLOY_ARM_DEPLOYMENT") == "orderflow"


@pytest.mark.parametrize("mode", ["apiKey", "mtls"])
def test_the_secrets_the_scripts_read_are_the_ones_arm_grants_the_deployer(mode: str):
    """B3, B6, structurally: each Key Vault name a script defaults to is written by ARM and
    readable by the deployer (test_deploy.py runs the scripts against exactly those)."""
    granted = set(main_context("prod", temporalAuthMode=mode).variable("secretNames")["deployer"])
    read = {
        script_default("smoke.sh", "DEPLOY_KV_API_TOKEN"),
        script_default("smoke.sh", "DEPLOY_KV_KAFKA_PASSWORD"),
    }
    if mode == "apiKey":
        read.add(script_default("lib.sh", "DEPLOY_KV_TEMPORAL_API_KEY"))
    else:
        read |= {
            script_default("lib.sh", "DEPLOY_KV_TEMPORAL_TLS_CERT"),
            script_default("lib.sh", "DEPLOY_KV_TEMPORAL_TLS_KEY"),
        }
    assert read == granted


# --------------------------------------------------------------------- the runner image


@pytest.fixture
def runner_home(tmp_path: Path) -> Path:
    """A stand-in of GitHub's runner installation and of curl, recording what they got."""
    home = tmp_path / "runner"
    home.mkdir()
    record = tmp_path / "record"
    for name, body in {
        "config.sh": f'printf "config %s\\n" "$*" >> "{record}"',
        "run.sh": f'env >> "{record}"; printf "run\\n" >> "{record}"',
    }.items():
        (home / name).write_text(f"#!/bin/sh\n{body}\n")
        (home / name).chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(
        f'#!/bin/sh\nprintf "curl %s\\n" "$*" >> "{record}"\ncat >> "{record}"\n'
        'printf \'{"token": "registration-token-1"}\'\n'
    )
    curl.chmod(curl.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def test_the_runner_registers_one_ephemeral_runner_and_hides_the_repository_token(
    runner_home: Path,
):
    env = {
        "PATH": f"{runner_home / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "RUNNER_GITHUB_TOKEN": "repository-token-secret",
        "GITHUB_REPOSITORY": "acme/orderflow",
        "RUNNER_LABELS": "orderflow-prod",
        "RUNNER_HOME": str(runner_home / "runner"),
        "CONTAINER_APP_REPLICA_NAME": "orderflow-prod-weu-runner-abc12",
    }
    result = subprocess.run(
        [str(RUNNER_DIR / "entrypoint.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    record = (runner_home / "record").read_text()
    assert (
        "curl -fsS -X POST -H Accept: application/vnd.github+json -H @- "
        "https://api.github.com/repos/acme/orderflow/actions/runners/registration-token"
    ) in record
    assert "Authorization: Bearer repository-token-secret" in record  # on stdin
    (config,) = [line for line in record.splitlines() if line.startswith("config ")]
    assert config == (
        "config --unattended --ephemeral --disableupdate --url https://github.com/acme/orderflow"
        " --token registration-token-1 --labels orderflow-prod"
        " --name orderflow-prod-weu-runner-abc12"
    )
    job_environment = record.split("config ")[1]
    assert "repository-token-secret" not in job_environment
    assert record.rstrip().endswith("run")


def test_the_runner_job_gives_the_entrypoint_what_it_reads():
    runners = (REPO_ROOT / "infra/arm/modules/runners.json").read_text(encoding="utf-8")
    entrypoint = (RUNNER_DIR / "entrypoint.sh").read_text(encoding="utf-8")
    required = set(re.findall(r'"\$\{(\w+):\?\}"', entrypoint))
    assert required == {"RUNNER_GITHUB_TOKEN", "GITHUB_REPOSITORY", "RUNNER_LABELS"}
    for name in required:
        assert f'"name": "{name}"' in runners, name
    dockerfile = (RUNNER_DIR / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["/usr/local/bin/orderflow-runner"]' in dockerfile
    assert "COPY --chmod=0755 entrypoint.sh /usr/local/bin/orderflow-runner" in dockerfile


# --------------------------------------------------------------------- the runbook


def test_the_first_deployment_runbook_checks_every_step_and_names_what_arm_names():
    text = (REPO_ROOT / "docs" / "operations" / "azure.md").read_text(encoding="utf-8")
    runbook = text.split("\n## First deployment\n", 1)[1].split("\n## ", 1)[0]
    body = runbook.split("### What has still never run", 1)[0]
    steps = [p for p in re.split(r"\n(?=\d+\. \*\*)", body) if re.match(r"\d+\. \*\*", p)]
    assert len(steps) >= 12
    for number, step in enumerate(steps, start=1):
        assert step.startswith(f"{number}. **"), step[:40]
        assert "Check:" in step, f"step {number} says how to verify it"
    assert "### What has still never run" in runbook
    names = main_context("dev").variable("names")
    deployer = names["identities"]["deployer"].replace("-dev-", "-$ENV-")
    assert deployer in runbook
    for secret in ("github-runner-token", "api-tls-certificate"):
        assert secret in runbook
    assert "imageDigest=none" in runbook
    assert "deployApps=false" in runbook
