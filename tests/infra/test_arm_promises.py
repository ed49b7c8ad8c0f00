"""What each environment gets from the ARM templates, checked per parameter file.

Environment differences come from parameter values; tests/infra/arm_support.py resolves them
through main.json into each module (only the small part of the expression language the
templates use for these values) and the assertions read the resulting resource properties.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.arm_support import (
    DEPLOYMENT_TYPE,
    ENVIRONMENTS,
    MAIN,
    MODULES_DIR,
    RUNTIME,
    Context,
    at,
    linked_deployments,
    load,
    main_context,
    module_context,
    module_contexts,
    only_resource,
    parameter_values,
    resources,
    resources_of_type,
    template_files,
)

environments = pytest.mark.parametrize("environment", ENVIRONMENTS)
private_environments = pytest.mark.parametrize("environment", ["staging", "prod"])

TOPICS = {
    "order.create.v1",
    "order.status.v1",
    "order.validation.v1",
    "order.create.v1.dlq",
    "order.status.v1.dlq",
    "order.validation.v1.dlq",
}
APP_PORTS = {"api": 8000, "worker": 8081, "bridge": 8082}
REQUIRED_TAGS = {"application", "environment", "owner", "cost-center", "managed-by"}
# Types that carry no tags in ARM (extension and most child resources).
UNTAGGABLE = {
    "Microsoft.Authorization/roleAssignments",
    "Microsoft.Insights/diagnosticSettings",
    "Microsoft.Security/pricings",
    "Microsoft.Resources/tags",
    "Microsoft.DBforPostgreSQL/flexibleServers/configurations",
    "Microsoft.DBforPostgreSQL/flexibleServers/databases",
    "Microsoft.DBforPostgreSQL/flexibleServers/administrators",
    "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
    "Microsoft.EventHub/namespaces/networkRuleSets",
    "Microsoft.EventHub/namespaces/eventhubs",
    "Microsoft.EventHub/namespaces/eventhubs/consumergroups",
    "Microsoft.EventHub/namespaces/schemagroups",
    "Microsoft.EventHub/namespaces/authorizationRules",
    "Microsoft.Network/privateDnsZones/A",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
    "Microsoft.Authorization/roleDefinitions",
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    "Microsoft.Cache/redisEnterprise/databases",
}
DATA_SERVICES = {
    "Microsoft.DBforPostgreSQL/flexibleServers": "postgresqlServer",
    "Microsoft.Cache/redisEnterprise": "redisEnterprise",
    "Microsoft.EventHub/namespaces": "namespace",
    "Microsoft.KeyVault/vaults": "vault",
    "Microsoft.ContainerRegistry/registries": "registry",
}


def module(name: str) -> Path:
    return MODULES_DIR / f"{name}.json"


def resource(context: Context, resource_type: str) -> dict[str, Any]:
    return only_resource(context.template, resource_type)


def app_contexts(environment: str, **overrides: Any) -> dict[str, tuple[Context, dict[str, Any]]]:
    """Each container app of the copy loop: its evaluation context and its resource."""
    context = module_context(environment, module("containerapps"), **overrides)
    app = resource(context, "Microsoft.App/containerApps")
    keys = context.variable("appKeys")
    return {
        key: (Context(context.template, context.parameters, i), app) for i, key in enumerate(keys)
    }


# --- naming and tags --------------------------------------------------------------------------


# Names Azure requires to be unique across all customers: they carry a suffix of the
# subscription, the resource group and nameSeed, so two deployments never collide and a teardown
# can move to new names (a purge-protected Key Vault keeps its name for 90 days).
GLOBAL_NAMES = ("keyVault", "registry", "postgres", "eventHubs", "redis", "grafana")


def all_names(names: dict[str, Any]) -> list[str]:
    flat = [v for v in names.values() if isinstance(v, str)]
    return flat + [v for group in names.values() if isinstance(group, dict) for v in group.values()]


@environments
def test_names_follow_the_convention(environment: str):
    names = main_context(environment).variable("names")
    prefix = f"orderflow-{environment}-weu"
    short = f"orderflow{ {'dev': 'dev', 'staging': 'stg', 'prod': 'prd'}[environment] }weu"
    assert names["resourceGroup"] == f"{prefix}-rg"
    assert names["api"] == f"{prefix}-api"
    assert names["worker"] == f"{prefix}-worker"
    assert names["bridge"] == f"{prefix}-bridge"
    assert names["setup"] == f"{prefix}-setup"
    assert names["runner"] == f"{prefix}-runner"
    assert names["containerAppsEnvironment"] == f"{prefix}-cae"
    suffix = main_context(environment).variable("nameSuffix")
    assert re.fullmatch(r"[a-z0-9]{6}", suffix)
    assert names["postgres"] == f"{prefix}-pg-{suffix}"
    assert names["eventHubs"] == f"{prefix}-evh-{suffix}"
    assert names["redis"] == f"{prefix}-redis-{suffix}"
    assert names["keyVault"] == f"{short}kv{suffix}"
    assert names["registry"] == f"{short}acr{suffix}"
    assert names["grafana"] == f"{short}g{suffix}"
    derived = [v for v in all_names(names) if v != "orderflow"]
    assert all(v.startswith((prefix, short)) for v in derived)
    flat = all_names(names)
    assert len(set(flat)) == len(flat) - 1  # database and schema group share "orderflow"


@pytest.mark.parametrize("location", ["westeurope", "eastus2"])
@environments
def test_globally_unique_names_carry_the_suffix_and_fit_azures_limits(
    environment: str, location: str
):
    names = main_context(environment, location=location).variable("names")
    seeded = main_context(environment, location=location, nameSeed="2").variable("names")
    for key in GLOBAL_NAMES:
        assert names[key] != seeded[key], f"{key}: nameSeed gives a new name"
    local = set(all_names(names)) - {names[k] for k in GLOBAL_NAMES}
    assert local == set(all_names(seeded)) - {seeded[k] for k in GLOBAL_NAMES}
    # Azure's limits, at the longest region code the template knows.
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", names["keyVault"])
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{0,21}[a-zA-Z0-9]", names["grafana"])
    assert re.fullmatch(r"[a-zA-Z0-9]{5,50}", names["registry"])
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", names["postgres"])
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{4,48}[a-zA-Z0-9]", names["eventHubs"])
    assert re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*", names["redis"])
    assert len(names["redis"]) <= 60
    for key in ("api", "worker", "bridge", "setup", "runner", "containerAppsEnvironment"):
        assert len(names[key]) <= 32
        assert names[key] == names[key].lower()


@environments
def test_tags_carry_the_five_keys_and_the_environment(environment: str):
    tags = main_context(environment).variable("tags")
    assert set(tags) == REQUIRED_TAGS
    assert tags["environment"] == environment
    assert tags["application"] == "orderflow"
    assert all(isinstance(v, str) and v for v in tags.values())


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.name)
def test_every_taggable_resource_is_tagged_from_one_place(path: Path):
    template = load(path)
    expected = "[variables('tags')]" if path == MAIN else "[parameters('tags')]"
    for item in resources(template):
        if item["type"] in UNTAGGABLE:
            assert "tags" not in item, item["type"]
        else:
            assert item.get("tags") == expected, f"{path.name}: {item['type']} {item['name']}"


def test_every_module_receives_the_tags():
    main = load(MAIN)
    assert (
        only_resource(main, "Microsoft.Resources/tags")["properties"]["tags"]
        == "[variables('tags')]"
    )
    for deployment, path in linked_deployments(main):
        if "tags" in load(path).get("parameters", {}):
            assert deployment["properties"]["parameters"]["tags"]["value"] == "[variables('tags')]"


# --- PostgreSQL ---------------------------------------------------------------------------------


@environments
def test_postgres_15_with_ha_backups_pgbouncer_and_entra(environment: str):
    context = module_context(environment, module("postgres"))
    server = resource(context, "Microsoft.DBforPostgreSQL/flexibleServers")
    expected_ha = {"dev": "Disabled", "staging": "SameZone", "prod": "ZoneRedundant"}[environment]
    assert at(context, server, "properties.version") == "15"
    assert at(context, server, "properties.highAvailability.mode") == expected_ha
    if environment != "dev":
        assert at(context, server, "properties.backup.geoRedundantBackup") == "Enabled"
    assert at(context, server, "sku.tier") in {"GeneralPurpose", "MemoryOptimized"}
    assert at(context, server, "properties.authConfig.activeDirectoryAuth") == "Enabled"
    settings = {p["name"]: p["value"] for p in context.variable("serverParameters")}
    assert settings["pgbouncer.enabled"] == "true"
    assert "pg_stat_statements" in settings["shared_preload_libraries"].split(",")
    assert "pg_stat_statements" in settings["azure.extensions"].split(",")
    database = resource(context, "Microsoft.DBforPostgreSQL/flexibleServers/databases")
    assert at(context, database, "name").endswith("/orderflow")
    admin = resource(context, "Microsoft.DBforPostgreSQL/flexibleServers/administrators")
    assert at(context, admin, "properties.principalType") == "Group"


def test_database_urls_go_through_pgbouncer_except_for_migrations():
    secrets = main_secret_values("prod")
    assert ":6432/orderflow?ssl=require" in secrets["database-url"]
    assert ":5432/orderflow?ssl=require" in secrets["database-url-direct"]
    assert secrets["database-url"].startswith("postgresql+asyncpg://orderflow_app:")


# --- Redis, Event Hubs, registry ------------------------------------------------------------------


@environments
def test_redis_is_azure_managed_redis_clustered_tls_only_private(environment: str):
    """Azure Cache for Redis (Basic/Standard/Premium) is being retired; its successor is Azure
    Managed Redis, the redisEnterprise resource type."""
    context = module_context(environment, module("redis"))
    assert resources_of_type(context.template, "Microsoft.Cache/redis") == []
    cache = resource(context, "Microsoft.Cache/redisEnterprise")
    assert at(context, cache, "sku.name") == parameter_values(environment)["redisSkuName"]
    assert at(context, cache, "properties.minimumTlsVersion") == "1.2"
    assert at(context, cache, "properties.publicNetworkAccess") == "Disabled"
    assert at(context, cache, "properties.highAvailability") == "Enabled"
    database = resource(context, "Microsoft.Cache/redisEnterprise/databases")
    assert at(context, database, "name").endswith("/default")
    assert at(context, database, "properties.clusteringPolicy") == "OSSCluster"
    assert at(context, database, "properties.clientProtocol") == "Encrypted"
    assert at(context, database, "properties.accessKeysAuthentication") == "Disabled"


@environments
def test_event_hubs_premium_six_topics_seven_days_group_and_schema_group(environment: str):
    context = module_context(environment, module("eventhubs"))
    values = parameter_values(environment)
    namespace = resource(context, "Microsoft.EventHub/namespaces")
    assert at(context, namespace, "sku") == {
        "name": "Premium",
        "tier": "Premium",
        "capacity": values["eventHubsProcessingUnits"],
    }
    assert at(context, namespace, "properties.minimumTlsVersion") == "1.2"
    hub = resource(context, "Microsoft.EventHub/namespaces/eventhubs")
    count = context.value(hub["copy"]["count"])
    names = {
        at(Context(context.template, context.parameters, i), hub, "name").split("/")[1]
        for i in range(count)
    }
    assert names == TOPICS
    assert at(context, hub, "properties.retentionDescription") == {
        "cleanupPolicy": "Delete",
        "retentionTimeInHours": 168,
    }
    assert at(context, hub, "properties.partitionCount") == values["eventHubsPartitionCount"]
    group = resource(context, "Microsoft.EventHub/namespaces/eventhubs/consumergroups")
    assert at(context, group, "name").split("/")[1:] == ["order.create.v1", "orderflow-bridge"]
    schemas = resource(context, "Microsoft.EventHub/namespaces/schemagroups")
    assert at(context, schemas, "properties.schemaType") == "Json"
    assert at(context, schemas, "properties.schemaCompatibility") == "Backward"


def test_kafka_access_is_least_privilege_per_app():
    context = module_context("prod", module("eventhubs"))
    rights = {c["name"]: set(c["rights"]) for c in context.parameters["kafkaClients"]}
    # The bridge consumes order.create.v1 and writes its DLQ; the worker only publishes;
    # setup only verifies topics; the deploy job's smoke order only sends; the api never talks
    # to Kafka.
    assert rights == {
        "bridge": {"Listen", "Send"},
        "worker": {"Send"},
        "setup": {"Listen"},
        "smoke": {"Send"},
    }
    main = main_context("prod")
    roles = main.variable("eventHubsRoles")
    grants = {
        (g["workload"], g["roleDefinitionGuid"]) for g in main.variable("eventHubsDataRoleGrants")
    }
    assert grants == {
        ("bridge", roles["dataReceiver"]),
        ("bridge", roles["dataSender"]),
        ("worker", roles["dataSender"]),
    }


@environments
def test_registry_premium_without_admin_user_and_defender_only_on_request(environment: str):
    context = module_context(environment, module("registry"))
    registry = resource(context, "Microsoft.ContainerRegistry/registries")
    assert at(context, registry, "sku.name") == "Premium"
    assert at(context, registry, "properties.adminUserEnabled") is False
    assert at(context, registry, "properties.anonymousPullEnabled") is False
    # az acr import into a registry behind a firewall or private endpoint needs the trusted
    # services bypass (Microsoft: "Import container images", network-restricted registries).
    assert at(context, registry, "properties.networkRuleBypassOptions") == "AzureServices"
    main = main_context(environment)
    defender = [r for r, path in linked_deployments(main.template) if path.name == "defender.json"]
    assert len(defender) == 1
    # A resource-group deployer cannot write subscription-scope resources: off by default.
    assert main.value(defender[0]["condition"]) is False
    assert main_context(environment, enableDefenderForContainers=True).value(
        defender[0]["condition"]
    )
    assert "subscriptionId" in defender[0]
    assert "resourceGroup" not in defender[0]
    pricing = only_resource(load(module("defender")), "Microsoft.Security/pricings")
    assert pricing["name"] == "Containers"
    assert (
        Context(load(module("defender")), {}).value(pricing["properties"]["pricingTier"])
        == "Standard"
    )


# --- Key Vault and secrets ----------------------------------------------------------------------


def main_secret_values(environment: str, **overrides: Any) -> dict[str, Any]:
    main = main_context(environment, **overrides)
    secrets_module = next(
        r for r, path in linked_deployments(main.template) if path.name == "keyvault-secrets.json"
    )
    values: dict[str, Any] = main.value(
        secrets_module["properties"]["parameters"]["secrets"]["value"]
    )
    return values


@environments
def test_key_vault_rbac_purge_protection_soft_delete(environment: str):
    context = module_context(environment, module("keyvault"))
    vault = resource(context, "Microsoft.KeyVault/vaults")
    assert at(context, vault, "properties.enableRbacAuthorization") is True
    assert at(context, vault, "properties.enablePurgeProtection") is True
    assert at(context, vault, "properties.enableSoftDelete") is True
    assert at(context, vault, "properties.networkAcls.defaultAction") == "Deny"


@pytest.mark.parametrize("mode", ["apiKey", "mtls"])
def test_every_referenced_secret_is_written_and_granted_only_to_its_readers(mode: str):
    main = main_context("prod", temporalAuthMode=mode)
    written = set(main_secret_values("prod", temporalAuthMode=mode))
    references = main.variable("secretNames")
    grants = {(g["workload"], g["secret"]) for g in main.variable("secretGrants")}
    assert grants == {(w, s) for w, names in references.items() for s in names}
    assert {s for _, s in grants} <= written
    temporal = {
        "apiKey": {"temporal-api-key"},
        "mtls": {"temporal-tls-client-cert", "temporal-tls-client-key"},
    }
    assert temporal[mode] <= written
    assert not (temporal["apiKey" if mode == "mtls" else "mtls"] & written)
    # Least privilege: only apps that talk to PostgreSQL or Kafka can read those credentials.
    assert "database-url" not in references["bridge"]
    assert not any(s.startswith("kafka-") for s in references["api"])
    assert references["appGateway"] == ["api-tls-certificate"]
    assert set(main.variable("secretContentTypes")) <= written | temporal["mtls"]


# --- network ------------------------------------------------------------------------------------


@environments
def test_subnets_have_nsgs_ending_in_deny_all_and_do_not_overlap(environment: str):
    context = module_context(environment, module("network"))
    vnet = resource(context, "Microsoft.Network/virtualNetworks")
    nsg_names = {
        at(context, nsg, "name")
        for nsg in resources_of_type(context.template, "Microsoft.Network/networkSecurityGroups")
    }
    subnets = at(context, vnet, "properties.subnets")
    assert {s["name"] for s in subnets} == {"appgw", "apps", "runners", "private-endpoints"}
    for subnet in subnets:
        nsg_id = subnet["properties"]["networkSecurityGroup"]["id"]
        assert nsg_id.rsplit("/", 1)[1] in nsg_names, subnet["name"]
    networks = [ipaddress.IPv4Network(s["properties"]["addressPrefix"]) for s in subnets]
    space = ipaddress.IPv4Network(parameter_values(environment)["vnetAddressPrefix"])
    assert all(n.subnet_of(space) for n in networks)
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])
    for nsg in resources_of_type(context.template, "Microsoft.Network/networkSecurityGroups"):
        rules = at(context, nsg, "properties.securityRules")
        priorities = [r["properties"]["priority"] for r in rules]
        assert len(set(priorities)) == len(priorities)
        last = max(rules, key=lambda r: r["properties"]["priority"])["properties"]
        assert (last["access"], last["direction"], last["sourceAddressPrefix"]) == (
            "Deny",
            "Inbound",
            "*",
        )
        for rule in rules:
            properties = rule["properties"]
            if (
                properties["access"] == "Allow"
                and properties.get("sourceAddressPrefix") == "Internet"
            ):
                # 443, and 80 for the listener that only redirects to 443.
                assert properties["destinationPortRange"] in ("443", "80"), rule["name"]


def test_every_data_service_has_a_private_endpoint_and_dns_zone():
    main = main_context("prod")
    services = main.variable("privateLinkServices")
    assert {s["resourceType"]: s["groupId"] for s in services} == DATA_SERVICES
    for resource_type in DATA_SERVICES:
        assert any(
            resources_of_type(load(path), resource_type) for path in MODULES_DIR.glob("*.json")
        ), resource_type
    endpoints = [
        r for r, path in linked_deployments(main.template) if path.name == "private-endpoint.json"
    ]
    assert len(endpoints) == 1
    assert main.value(endpoints[0]["copy"]["count"]) == len(services)
    network = module_context("prod", module("network"))
    assert network.parameters["privateDnsZoneNames"] == [s["zone"] for s in services]


PUBLIC_ACCESS = [
    (
        "postgres",
        "Microsoft.DBforPostgreSQL/flexibleServers",
        "properties.network.publicNetworkAccess",
    ),
    ("keyvault", "Microsoft.KeyVault/vaults", "properties.publicNetworkAccess"),
    ("eventhubs", "Microsoft.EventHub/namespaces", "properties.publicNetworkAccess"),
    (
        "eventhubs",
        "Microsoft.EventHub/namespaces/networkRuleSets",
        "properties.publicNetworkAccess",
    ),
    ("registry", "Microsoft.ContainerRegistry/registries", "properties.publicNetworkAccess"),
    ("redis", "Microsoft.Cache/redisEnterprise", "properties.publicNetworkAccess"),
]


@private_environments
@pytest.mark.parametrize(
    ("name", "resource_type", "path"), PUBLIC_ACCESS, ids=[p[1] for p in PUBLIC_ACCESS]
)
def test_no_public_network_access_to_data_services(
    environment: str, name: str, resource_type: str, path: str
):
    context = module_context(environment, module(name))
    assert at(context, resource(context, resource_type), path) == "Disabled"


# --- Container Apps -----------------------------------------------------------------------------


@environments
def test_container_apps_environments_are_internal_with_workload_profiles(environment: str):
    """Two environments: the apps', and the GitHub runners' in a subnet of their own."""
    contexts = module_contexts(environment, module("containerapps-environment"))
    names = main_context(environment).variable("names")
    subnets = []
    for context in contexts:
        cae = resource(context, "Microsoft.App/managedEnvironments")
        assert at(context, cae, "properties.vnetConfiguration.internal") is True
        assert at(context, cae, "properties.workloadProfiles")
        subnets.append(context.parameters["environmentName"])
    assert subnets == [names["containerAppsEnvironment"], names["runnersEnvironment"]]


@environments
def test_apps_probe_their_health_endpoints_on_their_ports(environment: str):
    for key, (context, app) in app_contexts(environment).items():
        container = at(context, app, "properties.template.containers.0")
        assert container["command"] == ["orderflow"]
        assert container["args"] == [key]
        # Container Apps allows failureThreshold 1-10 (and initialDelaySeconds up to 60); the
        # start-up budget stays about two minutes (migrations run in the setup job, not here).
        startup = next(p for p in container["probes"] if p["type"] == "Startup")
        assert all(1 <= p.get("failureThreshold", 3) <= 10 for p in container["probes"])
        budget = (
            startup["initialDelaySeconds"] + startup["periodSeconds"] * startup["failureThreshold"]
        )
        assert budget >= 120
        probes = {p["type"]: p["httpGet"] for p in container["probes"]}
        assert probes == {
            "Startup": {"path": "/health/live", "port": APP_PORTS[key]},
            "Liveness": {"path": "/health/live", "port": APP_PORTS[key]},
            "Readiness": {"path": "/health/ready", "port": APP_PORTS[key]},
        }
        env = {e["name"]: e for e in container["env"]}
        assert all(name.startswith("ORDERFLOW_") for name in env)
        assert env["ORDERFLOW_TELEMETRY__LOG_FORMAT"]["value"] == "json"
        assert env["ORDERFLOW_TELEMETRY__ENVIRONMENT"]["value"] == environment
        port_setting = {
            "api": "ORDERFLOW_API__PORT",
            "worker": "ORDERFLOW_WORKER__HTTP_PORT",
            "bridge": "ORDERFLOW_BRIDGE__HTTP_PORT",
        }[key]
        assert env[port_setting]["value"] == str(APP_PORTS[key])


@environments
def test_apps_read_secrets_from_key_vault_with_their_own_identity(environment: str):
    main = main_context(environment)
    identity_ids = main.variable("identityIds")
    for key, (context, app) in app_contexts(environment).items():
        identities = at(context, app, "identity.userAssignedIdentities")
        assert list(identities) == [identity_ids[key]]
        secrets = at(context, app, "properties.configuration.secrets")
        vault_refs = [s for s in secrets if "keyVaultUrl" in s]
        assert {s["name"] for s in vault_refs} == set(main.variable("secretNames")[key])
        for secret in vault_refs:
            assert secret["identity"] == identity_ids[key]
            assert secret["keyVaultUrl"].endswith(f".vault.azure.net/secrets/{secret['name']}")
        # Literal secrets only for values that are no secret at all (the KEDA username).
        assert {s["name"]: s["value"] for s in secrets if "value" in s} in (
            {},
            {"kafka-sasl-username": "$ConnectionString"},
        )
        env = at(context, app, "properties.template.containers.0.env")
        assert {e["secretRef"] for e in env if "secretRef" in e} <= {s["name"] for s in secrets}
        registries = at(context, app, "properties.configuration.registries")
        assert [r["identity"] for r in registries] == [identity_ids[key]]


@environments
def test_scale_rules_and_revision_modes(environment: str):
    apps = app_contexts(environment)
    values = parameter_values(environment)
    api_context, app = apps["api"]
    assert at(api_context, app, "properties.configuration.activeRevisionsMode") == "Multiple"
    ingress = at(api_context, app, "properties.configuration.ingress")
    assert ingress["targetPort"] == 8000
    assert ingress["allowInsecure"] is False
    assert {r["action"] for r in ingress["ipSecurityRestrictions"]} == {"Allow"}

    bridge_context, app = apps["bridge"]
    assert at(bridge_context, app, "properties.configuration.activeRevisionsMode") == "Single"
    scale = at(bridge_context, app, "properties.template.scale")
    assert scale["maxReplicas"] == values["eventHubsPartitionCount"]
    (rule,) = scale["rules"]
    assert rule["custom"]["type"] == "kafka"
    metadata = rule["custom"]["metadata"]
    assert (metadata["topic"], metadata["consumerGroup"]) == ("order.create.v1", "orderflow-bridge")
    assert {a["triggerParameter"] for a in rule["custom"]["auth"]} == {"username", "password"}

    worker_context, app = apps["worker"]
    rules = at(worker_context, app, "properties.template.scale.rules")
    assert [r["custom"]["type"] for r in rules] == ["cpu"]
    assert at(worker_context, app, "properties.configuration.ingress") is None
    for context, app in apps.values():
        types = [
            r.get("custom", {}).get("type")
            for r in at(context, app, "properties.template.scale.rules")
        ]
        assert "temporal" not in types, "Azure Container Apps rejects KEDA's temporal scaler"


def test_worker_schedules_become_cron_scale_rules():
    window = {
        "name": "weekday",
        "timezone": "Europe/Amsterdam",
        "start": "0 6 * * 1-5",
        "end": "0 20 * * 1-5",
        "desiredReplicas": 6,
    }
    context, app = app_contexts("prod", workerScheduledScale=[window])["worker"]
    rules = at(context, app, "properties.template.scale.rules")
    assert rules[1] == {
        "name": "schedule-weekday",
        "custom": {
            "type": "cron",
            "metadata": {
                "timezone": "Europe/Amsterdam",
                "start": "0 6 * * 1-5",
                "end": "0 20 * * 1-5",
                "desiredReplicas": "6",
            },
        },
    }


def test_mtls_mounts_the_client_certificate_from_key_vault():
    context, app = app_contexts("prod", temporalAuthMode="mtls")["worker"]
    env = {e["name"]: e for e in at(context, app, "properties.template.containers.0.env")}
    assert "ORDERFLOW_TEMPORAL__API_KEY" not in env
    mount = at(context, app, "properties.template.containers.0.volumeMounts.0.mountPath")
    assert env["ORDERFLOW_TEMPORAL__TLS_CLIENT_CERT"]["value"] == f"{mount}/client.pem"
    (volume,) = at(context, app, "properties.template.volumes")
    assert volume["storageType"] == "Secret"
    assert {s["secretRef"] for s in volume["secrets"]} == {
        "temporal-tls-client-cert",
        "temporal-tls-client-key",
    }


@environments
def test_setup_job_runs_orderflow_setup_on_manual_trigger(environment: str):
    context = module_context(environment, module("containerapps"))
    job = resource(context, "Microsoft.App/jobs")
    assert at(context, job, "properties.configuration.triggerType") == "Manual"
    container = at(context, job, "properties.template.containers.0")
    assert container["command"] == ["orderflow"]
    assert container["args"] == ["setup"]
    env = {e["name"]: e for e in container["env"]}
    assert env["ORDERFLOW_DATABASE__URL"]["secretRef"] == "database-url-direct"
    assert env["ORDERFLOW_KAFKA__TOPIC_PROVISIONING"]["value"] == "verify"
    assert at(context, job, "name") == main_context(environment).variable("names")["setup"]


# --- edge, monitoring ---------------------------------------------------------------------------


@environments
def test_application_gateway_waf_owasp_tls_from_key_vault(environment: str):
    context = module_context(environment, module("appgateway"))
    policy = resource(context, "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies")
    assert at(context, policy, "properties.managedRules.managedRuleSets") == [
        {"ruleSetType": "OWASP", "ruleSetVersion": "3.2"}
    ]
    assert at(context, policy, "properties.policySettings.state") == "Enabled"
    mode = at(context, policy, "properties.policySettings.mode")
    assert mode == (
        "Prevention" if environment == "prod" else parameter_values(environment)["wafMode"]
    )
    gateway = resource(context, "Microsoft.Network/applicationGateways")
    assert at(context, gateway, "properties.sku") == {"name": "WAF_v2", "tier": "WAF_v2"}
    listeners = {
        listener["name"]: listener["properties"]
        for listener in at(context, gateway, "properties.httpListeners")
    }
    assert {name: p["protocol"] for name, p in listeners.items()} == {
        "api-https": "Https",
        "api-http": "Http",
    }
    # Plain HTTP is only ever redirected, permanently, to the HTTPS listener.
    rules = at(context, gateway, "properties.requestRoutingRules")
    http_rules = [
        r["properties"]
        for r in rules
        if r["properties"]["httpListener"]["id"].endswith("/api-http")
    ]
    (redirect_rule,) = http_rules
    assert "backendAddressPool" not in redirect_rule
    (redirect,) = at(context, gateway, "properties.redirectConfigurations")
    assert redirect_rule["redirectConfiguration"]["id"].endswith(f"/{redirect['name']}")
    assert redirect["properties"]["redirectType"] == "Permanent"
    assert redirect["properties"]["targetListener"]["id"].endswith("/httpListeners/api-https")
    assert redirect["properties"]["includePath"] is True
    assert redirect["properties"]["includeQueryString"] is True
    assert at(context, gateway, "properties.sslPolicy.policyName") == "AppGwSslPolicy20220101S"
    assert at(context, gateway, "properties.probes.0.properties.path") == "/health/ready"
    certificate = at(context, gateway, "properties.sslCertificates.0.properties.keyVaultSecretId")
    # The vault URI is a deployment output (ending in "/"); the secret path is ours.
    assert certificate == f"{RUNTIME}secrets/api-tls-certificate"


def test_alerts_cover_the_critical_signals():
    context = module_context("prod", module("alerts"))
    metric = {(a["metricNamespace"], a["metricName"]) for a in context.variable("metricAlerts")}
    assert {
        ("Microsoft.App/containerApps", "RestartCount"),
        ("Microsoft.App/containerApps", "Replicas"),
        ("Microsoft.DBforPostgreSQL/flexibleServers", "cpu_percent"),
        ("Microsoft.DBforPostgreSQL/flexibleServers", "storage_percent"),
        ("Microsoft.DBforPostgreSQL/flexibleServers", "active_connections"),
        ("Microsoft.EventHub/namespaces", "ThrottledRequests"),
    } <= metric
    restarts = [a for a in context.variable("metricAlerts") if a["metricName"] == "RestartCount"]
    assert len(restarts) == 3
    assert {a["name"] for a in context.variable("logAlerts")} >= {"bridge-backpressure"}
    for alert_type in ("Microsoft.Insights/metricAlerts", "Microsoft.Insights/scheduledQueryRules"):
        item = resource(context, alert_type)
        assert "actionGroup" in item["properties"]["actions"].__repr__()


def test_grafana_reads_azure_monitor():
    template = load(module("monitoring"))
    assignments = resources_of_type(template, "Microsoft.Authorization/roleAssignments")
    reader = Context(template, {}).variable("roles")["monitoringReader"]
    assert any(
        a["properties"]["roleDefinitionId"] == "[variables('roles').monitoringReader]"
        for a in assignments
    )
    assert reader.endswith("43d0d8ad-25c7-4714-9337-8ba259a9fe05")


def test_first_deployment_can_leave_out_the_apps():
    """deployApps=false skips everything that needs the image in the new registry."""
    main = main_context("prod", deployApps=False)

    def skipped(context: Context) -> set[str]:
        return {
            path.name
            for r, path in linked_deployments(context.template)
            if "condition" in r and context.value(r["condition"]) is False
        }

    assert skipped(main) - skipped(main_context("prod")) == {
        "containerapps.json",
        "runners.json",
        "appgateway.json",
        "alerts.json",
    }
    targets = {t["resourceType"] for t in main.variable("diagnosticTargets")}
    assert "Microsoft.Network/applicationGateways" not in targets
    assert all(
        r["type"] == DEPLOYMENT_TYPE or r["type"] == "Microsoft.Resources/tags"
        for r in resources(main.template)
    )
