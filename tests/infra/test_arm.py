"""Offline checks of the ARM templates (infra/arm): shape, references, parameter files, linking.

The structural promises of the deployment (what each environment gets) are in
test_arm_promises.py; the checkov scan in test_arm_checkov.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.arm_support import (
    ARM_DIR,
    DEPLOYMENT_TYPE,
    ENVIRONMENTS,
    MAIN,
    linked_deployments,
    load,
    module_files,
    parameter_file,
    referenced,
    resources,
    template_files,
)

TEMPLATE_SCHEMAS = {
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
}
PARAMETERS_SCHEMA = (
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"
)
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
# The only preview API version in use: diagnostic settings have no GA version.
ALLOWED_PREVIEW_TYPES = {"Microsoft.Insights/diagnosticSettings"}

templates = pytest.mark.parametrize("path", template_files(), ids=lambda p: p.name)
environments = pytest.mark.parametrize("environment", ENVIRONMENTS)


@templates
def test_template_has_arm_shape(path: Path):
    template = load(path)
    assert template["$schema"] in TEMPLATE_SCHEMAS
    assert template["contentVersion"] == "1.0.0.0"
    assert template["resources"], "a template without resources"
    for resource in resources(template):
        assert {"type", "apiVersion", "name"} <= resource.keys(), resource
        assert API_VERSION.match(resource["apiVersion"]), resource["apiVersion"]
        if resource["apiVersion"].endswith("-preview"):
            assert resource["type"] in ALLOWED_PREVIEW_TYPES, resource["type"]


@environments
def test_parameter_file_has_arm_shape(environment: str):
    document = load(parameter_file(environment))
    assert document["$schema"] == PARAMETERS_SCHEMA
    assert document["contentVersion"] == "1.0.0.0"
    for name, entry in document["parameters"].items():
        assert set(entry) == {"value"}, f"{name}: only plain values, no Key Vault references"


@templates
def test_every_referenced_parameter_and_variable_is_defined(path: Path):
    template = load(path)
    body = {k: v for k, v in template.items() if k != "functions"}
    assert referenced(body, "parameters") <= set(template.get("parameters", {}))
    assert referenced(body, "variables") <= set(template.get("variables", {}))
    for namespace in template.get("functions", []):
        for name, function in namespace["members"].items():
            declared = {p["name"] for p in function["parameters"]}
            assert referenced(function, "parameters") <= declared, name
            assert not referenced(function, "variables"), f"{name}: functions cannot use variables"


@templates
def test_every_defined_parameter_and_variable_is_used(path: Path):
    template = load(path)
    body = {k: v for k, v in template.items() if k not in ("parameters",)}
    # A parameter used only by another parameter's default still counts.
    defaults = [spec.get("defaultValue") for spec in template.get("parameters", {}).values()]
    used_parameters = referenced(body, "parameters") | referenced(defaults, "parameters")
    assert set(template.get("parameters", {})) - used_parameters == set()
    used_variables = referenced({k: v for k, v in template.items()}, "variables")
    assert set(template.get("variables", {})) - used_variables == set()


@templates
def test_every_parameter_is_described_and_no_secret_has_a_default(path: Path):
    for name, spec in load(path).get("parameters", {}).items():
        assert spec.get("metadata", {}).get("description", "").strip(), f"{name} has no description"
        if spec["type"].lower().startswith("secure"):
            assert "defaultValue" not in spec, f"secret {name} has a default"


def _deploy_time(spec: dict[str, Any]) -> str | None:
    value = spec.get("metadata", {}).get("deployTime")
    return None if value is None else str(value)


def test_deploy_time_parameters_are_the_secrets_and_the_image():
    main = load(MAIN)["parameters"]
    secrets = {n for n, s in main.items() if s["type"].lower().startswith("secure")}
    assert {n for n, s in main.items() if _deploy_time(s) == "secret-store"} == secrets
    assert {n for n, s in main.items() if _deploy_time(s) == "pipeline"} == {
        "imageDigest",
        "buildId",
    }
    assert secrets == {
        "postgresAdministratorPassword",
        "postgresAppPassword",
        "temporalCredentials",
        "codecKeys",
        "apiToken",
        "tlsCertificatePfx",
        "githubRunnerToken",
    }


@environments
def test_parameter_file_supplies_every_required_parameter_and_nothing_unknown(environment: str):
    """Required parameters come from the file, except deploy-time ones (secrets, the image).

    Secrets never sit in a committed file: Ansible (or the pipeline) passes them from its secret
    store, and the image digest is the one being rolled out. main.json marks both kinds with
    metadata.deployTime, which is what the deploy tooling reads too.
    """
    main = load(MAIN)["parameters"]
    given = set(load(parameter_file(environment))["parameters"])
    required = {n for n, s in main.items() if "defaultValue" not in s and not _deploy_time(s)}
    deploy_time = {n for n, s in main.items() if _deploy_time(s)}
    assert required - given == set(), "missing"
    assert given - set(main) == set(), "unknown"
    assert given & deploy_time == set(), "secrets and the image are passed at deploy time"
    assert load(parameter_file(environment))["parameters"]["environment"]["value"] == environment


def test_parameter_files_satisfy_allowed_values_and_bounds():
    main = load(MAIN)["parameters"]
    for environment in ENVIRONMENTS:
        for name, entry in load(parameter_file(environment))["parameters"].items():
            spec, value = main[name], entry["value"]
            assert isinstance(
                value,
                {"string": str, "int": int, "bool": bool, "array": list, "object": dict}[
                    spec["type"]
                ],
            ), (environment, name)
            if "allowedValues" in spec:
                assert value in spec["allowedValues"], (environment, name)
            if "minValue" in spec:
                assert value >= spec["minValue"], (environment, name)
            if "maxValue" in spec:
                assert value <= spec["maxValue"], (environment, name)


def test_every_module_is_linked_by_relative_path_and_exists():
    links = linked_deployments(load(MAIN))
    linked = {path for _, path in links}
    assert all(path.is_file() for path in linked)
    assert linked == {path.resolve() for path in module_files()}, "orphan or missing module"
    for deployment in [r for r in resources(load(MAIN)) if r["type"] == DEPLOYMENT_TYPE]:
        properties = deployment["properties"]
        assert "template" not in properties, "modules are separate files, packed only by pack.py"
        assert set(properties["templateLink"]) == {"relativePath"}


def test_every_module_gets_exactly_the_parameters_it_declares():
    for deployment, module in linked_deployments(load(MAIN)):
        declared = load(module).get("parameters", {})
        passed = set(deployment["properties"].get("parameters", {}))
        required = {n for n, s in declared.items() if "defaultValue" not in s}
        assert passed - set(declared) == set(), f"{module.name}: unknown parameters"
        assert required - passed == set(), f"{module.name}: required parameters not passed"


def test_module_outputs_read_by_main_exist():
    main = load(MAIN)
    deployments = main["variables"]["deployments"]
    by_name = {}
    for deployment, module in linked_deployments(main):
        key = re.fullmatch(r"\[variables\('deployments'\)\.(\w+)\]", deployment["name"])
        if key:
            by_name[key.group(1)] = set(load(module).get("outputs", {}))
    pattern = re.compile(r"reference\(variables\('deployments'\)\.(\w+)\)\.outputs\.(\w+)\.value")
    reads = {m for text in json.dumps(main).split('"') for m in pattern.findall(text)}
    assert reads, "main.json reads module outputs"
    for key, output in reads:
        assert key in deployments, key
        assert output in by_name[key], f"{key}.{output}"


def test_pack_inlines_every_module_as_an_inner_scope_nested_template(tmp_path: Path):
    output = tmp_path / "main.packed.json"
    result = subprocess.run(
        [sys.executable, str(ARM_DIR / "pack.py"), "--output", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    packed = json.loads(output.read_text())
    main = load(MAIN)
    assert packed["parameters"] == main["parameters"]
    assert packed["outputs"] == main["outputs"]
    assert '"templateLink"' not in output.read_text()
    linked = {r["name"]: path for r, path in linked_deployments(main)}
    nested = [r for r in packed["resources"] if r["type"] == DEPLOYMENT_TYPE]
    assert {r["name"] for r in nested} == set(linked)
    for resource in nested:
        assert resource["properties"]["expressionEvaluationOptions"] == {"scope": "inner"}
        assert resource["properties"]["template"] == load(linked[resource["name"]])
    # ARM refuses templates over 4 MiB.
    assert output.stat().st_size < 4 * 1024 * 1024


def test_pack_reports_a_missing_module(tmp_path: Path):
    broken = load(MAIN)
    broken["resources"][1]["properties"]["templateLink"]["relativePath"] = "modules/nope.json"
    (tmp_path / "main.json").write_text(json.dumps(broken))
    result = subprocess.run(
        [sys.executable, str(ARM_DIR / "pack.py"), "--template", str(tmp_path / "main.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "nope.json" in result.stderr
