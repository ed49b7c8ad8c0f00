"""The delivery path in the ARM templates: one registry per environment that every image comes
from (decision 0014), GitHub runners inside each environment's network with a deployer identity
that has exactly what the deploy scripts need (decision 0015), and the api reachable for the
smoke test from the runners only (decision 0016).

The workflows' and scripts' side of the same promises is in test_delivery.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.arm_support import (
    ENVIRONMENTS,
    MODULES_DIR,
    Context,
    at,
    linked_deployments,
    load,
    main_context,
    module_context,
    only_resource,
    resources_of_type,
)

environments = pytest.mark.parametrize("environment", ENVIRONMENTS)
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
SCHEMA_REGISTRY_CONTRIBUTOR = "5dffeca3-4936-4216-b2bc-10343a5abb25"
REGISTRY_OUTPUT = "reference(variables('deployments').registry).outputs.loginServer.value"


def module(name: str) -> Path:
    return MODULES_DIR / f"{name}.json"


def deployment(context: Context, module_name: str) -> dict[str, Any]:
    (found,) = [r for r, path in linked_deployments(context.template) if path.stem == module_name]
    return found


def passed(context: Context, module_name: str, parameter: str) -> str:
    """The expression main.json passes to ``parameter`` of the module ``module_name``."""
    value = deployment(context, module_name)["properties"]["parameters"][parameter]["value"]
    assert isinstance(value, str)
    return value


def puller_workloads(context: Context) -> set[str]:
    """Workloads whose identity gets AcrPull on this environment's registry."""
    pullers = passed(context, "registry", "pullerPrincipalIds")
    return {
        part.split(".value.")[1].rstrip(")]")
        for part in pullers.split(", ")
        if "outputs.principalIds.value." in part
    }


# --------------------------------------------------------------------- one registry model


@environments
def test_every_image_is_named_in_this_environments_registry_and_pulled_by_its_own_identity(
    environment: str,
):
    """B2: a revision can only reference an image its identity can pull through its network."""
    main = main_context(environment)
    # The apps and the setup job: main.json composes the image from its own registry's login
    # server; the module names that server, with the workload's identity, as the only registry.
    assert passed(main, "containerapps", "image") == (
        f"[format('{{0}}/{{1}}@{{2}}', {REGISTRY_OUTPUT}, variables('imageRepository'),"
        " parameters('imageDigest'))]"
    )
    assert passed(main, "containerapps", "registryLoginServer") == f"[{REGISTRY_OUTPUT}]"
    apps = load(module("containerapps"))
    for item in [*resources_of_type(apps, "Microsoft.App/containerApps")]:
        assert item["properties"]["template"]["containers"][0]["image"] == "[parameters('image')]"
        (registry,) = item["properties"]["configuration"]["registries"]
        assert registry["server"] == "[parameters('registryLoginServer')]"
        assert "identityIds')[variables('appKeys')[copyIndex()]]" in registry["identity"]
    job = only_resource(apps, "Microsoft.App/jobs")
    assert job["properties"]["template"]["containers"][0]["image"] == "[parameters('image')]"
    assert job["properties"]["configuration"]["registries"] == [
        {
            "server": "[parameters('registryLoginServer')]",
            "identity": "[parameters('identityIds').setup]",
        }
    ]
    # The runner job pulls its own image from the same registry, with its own identity.
    assert passed(main, "runners", "image") == (
        f"[format('{{0}}/{{1}}@{{2}}', {REGISTRY_OUTPUT}, variables('runnerImageRepository'),"
        " parameters('runnerImageDigest'))]"
    )
    assert passed(main, "runners", "registryLoginServer") == f"[{REGISTRY_OUTPUT}]"
    assert passed(main, "runners", "identityId") == "[variables('identityIds').runner]"
    # Every identity that pulls has AcrPull on that registry (and the deployer, which checks
    # the imported digest); nothing pushes.
    assert puller_workloads(main) == {"api", "worker", "bridge", "setup", "runner", "deployer"}
    registry = load(module("registry"))
    (assignment,) = resources_of_type(registry, "Microsoft.Authorization/roleAssignments")
    roles = Context(registry, {}).variable("roles")
    assert roles == {
        "acrPull": f"/Microsoft.Authorization/roleDefinitions/{ACR_PULL}",
    }
    assert assignment["properties"]["roleDefinitionId"] == "[variables('roles').acrPull]"


@environments
def test_the_registry_is_reached_through_this_environments_network(environment: str):
    """The network path of every pull: a private endpoint in the environment's own VNet, its DNS
    zone linked there, and the NSG letting the apps' and the runners' subnets through."""
    main = main_context(environment)
    services = {s["key"]: s for s in main.variable("privateLinkServices")}
    assert services["registry"]["resourceType"] == "Microsoft.ContainerRegistry/registries"
    assert services["registry"]["zone"] == "privatelink.azurecr.io"
    network = module_context(environment, module("network"))
    assert "privatelink.azurecr.io" in network.parameters["privateDnsZoneNames"]
    rules = {r["name"]: r["properties"] for r in network.variable("privateEndpointRules")}
    prefixes = network.variable("prefixes")
    for name, source in (
        ("AllowAppsToDataServices", "apps"),
        ("AllowRunnersToDataServices", "runners"),
    ):
        assert rules[name]["sourceAddressPrefix"] == prefixes[source]
        assert "443" in rules[name]["destinationPortRanges"]
    # Both Container Apps environments sit in this VNet, each in its own subnet.
    envs = [
        r
        for r, path in linked_deployments(main.template)
        if path.name == "containerapps-environment.json"
    ]
    subnets = [e["properties"]["parameters"]["infrastructureSubnetId"]["value"] for e in envs]
    assert subnets == [
        "[reference(variables('deployments').network).outputs.subnetIds.value.apps]",
        "[reference(variables('deployments').network).outputs.subnetIds.value.runners]",
    ]
    if environment != "dev":
        registry = module_context(environment, module("registry"))
        item = only_resource(registry.template, "Microsoft.ContainerRegistry/registries")
        assert at(registry, item, "properties.publicNetworkAccess") == "Disabled"


# --------------------------------------------------------------------- runners in the network


@environments
def test_runners_are_an_event_driven_job_in_the_environments_network(environment: str):
    main = main_context(environment, githubRepository="acme/orderflow")
    context = module_context(environment, module("runners"), githubRepository="acme/orderflow")
    job = only_resource(context.template, "Microsoft.App/jobs")
    configuration = at(context, job, "properties.configuration")
    assert configuration["triggerType"] == "Event"
    (rule,) = configuration["eventTriggerConfig"]["scale"]["rules"]
    assert rule["type"] == "github-runner"
    assert rule["metadata"] == {
        "githubAPIURL": "https://api.github.com",
        "owner": "acme",
        "runnerScope": "repo",
        "repos": "orderflow",
        "labels": f"orderflow-{environment}",
        "targetWorkflowQueueLength": "1",
    }
    assert rule["auth"] == [
        {"secretRef": "github-runner-token", "triggerParameter": "personalAccessToken"}
    ]
    (secret,) = configuration["secrets"]
    assert secret["name"] == "github-runner-token"
    assert secret["identity"] == main.variable("identityIds")["runner"]
    env = {e["name"]: e for e in at(context, job, "properties.template.containers.0.env")}
    assert env["RUNNER_GITHUB_TOKEN"] == {
        "name": "RUNNER_GITHUB_TOKEN",
        "secretRef": "github-runner-token",
    }
    assert env["RUNNER_LABELS"]["value"] == f"orderflow-{environment}"
    assert main.value(deployment(main, "runners")["condition"]) is True
    # In the runners' own environment (own subnet), not the apps'.
    assert passed(main, "runners", "environmentId") == (
        "[reference(variables('deployments').runnersEnvironment).outputs.environmentId.value]"
    )
    outputs = main.template["outputs"]
    assert main.value(outputs["runnerLabel"]["value"]) == f"orderflow-{environment}"


def test_the_runner_identity_only_pulls_its_image_and_reads_its_token():
    main = main_context("prod")
    assert main.variable("secretNames")["runner"] == ["github-runner-token"]
    grants = {(g["workload"], g["secret"]) for g in main.variable("secretGrants")}
    assert {s for w, s in grants if w == "runner"} == {"github-runner-token"}
    assert "runner" not in {g["workload"] for g in main.variable("eventHubsDataRoleGrants")}
    access = load(module("deployer-access"))
    assert passed(main, "deployer-access", "principalId").endswith("principalIds.value.deployer]")
    assert resources_of_type(access, "Microsoft.Authorization/roleAssignments")


# --------------------------------------------------------------------- the deployer identity


@environments
def test_the_deployer_trusts_only_this_environments_github_environment(environment: str):
    context = module_context(environment, module("identities"), githubRepository="acme/orderflow")
    (credential,) = resources_of_type(
        context.template,
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    )
    properties = at(context, credential, "properties")
    assert properties == {
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": f"repo:acme/orderflow:environment:{environment}",
        "audiences": ["api://AzureADTokenExchange"],
    }
    names = main_context(environment).variable("names")
    assert at(context, credential, "name").startswith(f"{names['identities']['deployer']}/")


@pytest.mark.parametrize("mode", ["apiKey", "mtls"])
def test_the_deployer_has_exactly_what_the_deploy_scripts_need(mode: str):
    main = main_context("prod", temporalAuthMode=mode)
    temporal = {
        "apiKey": {"temporal-api-key"},
        "mtls": {"temporal-tls-client-cert", "temporal-tls-client-key"},
    }
    grants = {(g["workload"], g["secret"]) for g in main.variable("secretGrants")}
    assert {s for w, s in grants if w == "deployer"} == {
        "api-token",
        "kafka-sasl-password-smoke",
        *temporal[mode],
    }
    # One custom role on the resource group: apps, jobs, the registry import, the deployment's
    # outputs. No delete, no role assignment, nothing else.
    access = load(module("deployer-access"))
    context = Context(access, {"environment": "prod", "principalId": "p"})
    permissions = context.variable("actions")
    assert set(permissions) == {
        "Microsoft.App/containerApps/*",
        "Microsoft.App/jobs/*",
        "Microsoft.App/managedEnvironments/read",
        "Microsoft.App/managedEnvironments/join/action",
        "Microsoft.ManagedIdentity/userAssignedIdentities/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
        "Microsoft.ContainerRegistry/registries/read",
        "Microsoft.ContainerRegistry/registries/importImage/action",
        "Microsoft.Resources/deployments/read",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
    }
    assert context.variable("notActions") == [
        "Microsoft.App/containerApps/delete",
        "Microsoft.App/jobs/delete",
    ]
    (role,) = resources_of_type(access, "Microsoft.Authorization/roleDefinitions")
    assert context.value(role["properties"]["assignableScopes"]) == ["/resourceGroup"]
    # Schema publishing (deploy.yml of Ansible) is the deployer's too.
    eventhubs = module_context("prod", module("eventhubs"))
    assert passed(main, "eventhubs", "schemaPublisherPrincipalId").endswith(
        "principalIds.value.deployer]"
    )
    assert eventhubs.variable("schemaRegistryContributor").endswith(SCHEMA_REGISTRY_CONTRIBUTOR)
    assert main.template["outputs"]["deployerClientId"]["value"].endswith(
        "clientIds.value.deployer]"
    )


# --------------------------------------------------------------------- smoke path (B4)


@environments
def test_the_api_admits_the_gateway_and_the_runners_and_nothing_else(environment: str):
    main = main_context(environment)
    restrictions = load(module("containerapps"))["variables"]["apps"]["api"]["ingress"][
        "ipSecurityRestrictions"
    ]
    assert {r["ipAddressRange"] for r in restrictions} == {
        "[parameters('appGatewaySubnetPrefix')]",
        "[parameters('runnersSubnetPrefix')]",
    }
    assert {r["action"] for r in restrictions} == {"Allow"}
    assert passed(main, "containerapps", "runnersSubnetPrefix") == (
        "[reference(variables('deployments').network).outputs.subnetPrefixes.value.runners]"
    )
    network = module_context(environment, module("network"))
    prefixes = network.variable("prefixes")
    rules = [
        r["properties"]
        for r in network.variable("appsRules")
        if r["properties"]["access"] == "Allow"
    ]
    from_runners = [r for r in rules if r["sourceAddressPrefix"] == prefixes["runners"]]
    assert from_runners == [
        {
            **from_runners[0],
            "destinationAddressPrefix": prefixes["apps"],
            "destinationPortRange": "443",
        }
    ]
