# shellcheck shell=bash
# Shared by deploy.sh, rollback.sh and smoke.sh (sourced, not run): resource names, the ARM
# deployment's outputs, secrets, logging and polling. Names of per-group resources follow
# DESIGN.md ({app}-{env}-{region}-{kind}); the globally unique ones (Key Vault, registry, Event
# Hubs) carry a suffix only the ARM deployment knows, so they are read from its outputs.
#
# These scripts run on the environment's own GitHub runner (inside its virtual network: Key
# Vault, the registry's data endpoint, Event Hubs and the api are private), logged in as the
# environment's deployer identity (azure/login with OIDC). Decisions 0014-0016.
#
# Settings (environment variables; none is a secret):
#   DEPLOY_APP              application name in resource names       (default orderflow)
#   DEPLOY_REGION           region short code in resource names      (default weu)
#   DEPLOY_ARM_DEPLOYMENT   the ARM deployment whose outputs name the resources (default orderflow)
#   DEPLOY_POLL_S           seconds between two polls                (default 10)
#   DEPLOY_WAIT_ATTEMPTS    polls before a wait gives up             (default 90, i.e. 15 min)
#   DEPLOY_TEMPORAL_VERSIONING  true: switch Temporal's current worker version (default true)
#   DEPLOY_TEMPORAL_DEPLOYMENT  Worker Deployment name  (default orderflow, as
#                           ORDERFLOW_WORKER__DEPLOYMENT_NAME)
#   DEPLOY_KV_API_TOKEN     Key Vault secret: the API bearer token   (default api-token)
#   DEPLOY_KV_KAFKA_PASSWORD  Key Vault secret: connection string of the Send-only smoke rule
#                           (default kafka-sasl-password-smoke)
#   DEPLOY_KV_TEMPORAL_API_KEY  Key Vault secret: Temporal Cloud API key (default temporal-api-key)
#   DEPLOY_KV_TEMPORAL_TLS_CERT / _KEY  Key Vault secrets of the mTLS client certificate
#                           (default temporal-tls-client-cert / temporal-tls-client-key)
#   TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE  where the temporal CLI connects (its own variables;
#                           default: the worker app's ORDERFLOW_TEMPORAL__ADDRESS/NAMESPACE);
#                           TEMPORAL_API_KEY or TEMPORAL_TLS_CLIENT_CERT_DATA/KEY_DATA (or _PATH),
#                           else read from Key Vault in the apps' own auth mode.

# The worker's build ID setting (shared decisions); deploy writes it on every worker revision so
# the revision history says which Temporal version each image is.
export BUILD_ID_SETTING=ORDERFLOW_WORKER__BUILD_ID
# Labels on the api's traffic: the revision rollback.sh returns to, and the revision being
# smoke-tested (its URL is <app>---candidate.<environment domain>).
export PREVIOUS_LABEL=previous
export CANDIDATE_LABEL=candidate

log() {
    printf '%s %s\n' "[$(basename "$0")]" "$*" >&2
}

die() {
    log "ERROR: $*"
    exit 1
}

# resource_names ENV: sets RG, API, WORKER, BRIDGE, SETUP_JOB (names fixed by the convention).
resource_names() {
    local env=$1
    case "$env" in
        dev | staging | prod) ;;
        *) die "environment must be dev, staging or prod (got '$env')" ;;
    esac
    local prefix="${DEPLOY_APP:-orderflow}-${env}-${DEPLOY_REGION:-weu}"
    RG="${prefix}-rg"
    API="${prefix}-api"
    WORKER="${prefix}-worker"
    BRIDGE="${prefix}-bridge"
    SETUP_JOB="${prefix}-setup"
    export RG API WORKER BRIDGE SETUP_JOB
}

# load_outputs: sets KEY_VAULT, REGISTRY, REGISTRY_SERVER, IMAGE_REPOSITORY, EVENT_HUBS,
# KAFKA_BOOTSTRAP from the outputs of the environment's ARM deployment (one call).
load_outputs() {
    local outputs
    outputs=$(az deployment group show -g "$RG" -n "${DEPLOY_ARM_DEPLOYMENT:-orderflow}" \
        --query properties.outputs -o json | python3 -c '
import json, sys
outputs = json.load(sys.stdin) or {}
names = ("keyVaultName", "registryName", "registryLoginServer", "imageRepository",
         "eventHubsNamespaceName", "kafkaBootstrapServers")
print("\t".join(str((outputs.get(name) or {}).get("value", "")) for name in names))
') || die "cannot read the outputs of ARM deployment ${DEPLOY_ARM_DEPLOYMENT:-orderflow} in $RG"
    IFS=$'\t' read -r KEY_VAULT REGISTRY REGISTRY_SERVER IMAGE_REPOSITORY EVENT_HUBS KAFKA_BOOTSTRAP \
        <<<"$outputs"
    [ -n "$KAFKA_BOOTSTRAP" ] || die "ARM deployment in $RG has no outputs yet: provision first"
    export KEY_VAULT REGISTRY REGISTRY_SERVER IMAGE_REPOSITORY EVENT_HUBS KAFKA_BOOTSTRAP
}

# wait_until DESCRIPTION COMMAND...: run COMMAND until it prints "ok" (success) or "failed"
# (give up at once); anything else means "not yet". Bounded by DEPLOY_WAIT_ATTEMPTS.
wait_until() {
    local what=$1
    shift
    local attempts=${DEPLOY_WAIT_ATTEMPTS:-90} poll=${DEPLOY_POLL_S:-10} state attempt
    for ((attempt = 1; attempt <= attempts; attempt++)); do
        state=$("$@" || true)
        case "$state" in
            ok) return 0 ;;
            failed) log "$what: failed"; return 1 ;;
        esac
        log "$what: not yet (${state:-no answer}), attempt $attempt/$attempts"
        if ((attempt < attempts)); then sleep "$poll"; fi
    done
    log "$what: gave up after $attempts attempts"
    return 1
}

kv_secret() {
    az keyvault secret show --vault-name "$KEY_VAULT" --name "$1" --query value -o tsv
}

# worker_setting NAME: a plain (non-secret) environment value of the worker app's container.
worker_setting() {
    az containerapp show -n "$WORKER" -g "$RG" \
        --query "properties.template.containers[0].env[?name=='$1'].value | [0]" -o tsv
}

# temporal_login: the temporal CLI reads TEMPORAL_ADDRESS/NAMESPACE and its credentials from the
# environment. Address and namespace default to the worker's own settings (one fact, one place);
# the credentials are read from Key Vault in the mode the apps use: the client certificate when
# the worker runs with ORDERFLOW_TEMPORAL__TLS=true (temporalAuthMode mtls), else the API key.
temporal_login() {
    if [ -z "${TEMPORAL_ADDRESS:-}" ]; then
        TEMPORAL_ADDRESS=$(worker_setting ORDERFLOW_TEMPORAL__ADDRESS)
    fi
    if [ -z "${TEMPORAL_NAMESPACE:-}" ]; then
        TEMPORAL_NAMESPACE=$(worker_setting ORDERFLOW_TEMPORAL__NAMESPACE)
    fi
    [ -n "$TEMPORAL_ADDRESS" ] || die "TEMPORAL_ADDRESS is not set and $WORKER has no ORDERFLOW_TEMPORAL__ADDRESS"
    [ -n "$TEMPORAL_NAMESPACE" ] || die "TEMPORAL_NAMESPACE is not set and $WORKER has no ORDERFLOW_TEMPORAL__NAMESPACE"
    export TEMPORAL_ADDRESS TEMPORAL_NAMESPACE
    if [ -n "${TEMPORAL_API_KEY:-}" ] || [ -n "${TEMPORAL_TLS_CLIENT_CERT_PATH:-}" ] ||
        [ -n "${TEMPORAL_TLS_CLIENT_CERT_DATA:-}" ]; then
        return 0
    fi
    if [ "$(worker_setting ORDERFLOW_TEMPORAL__TLS)" = true ]; then
        TEMPORAL_TLS_CLIENT_CERT_DATA=$(kv_secret "${DEPLOY_KV_TEMPORAL_TLS_CERT:-temporal-tls-client-cert}")
        TEMPORAL_TLS_CLIENT_KEY_DATA=$(kv_secret "${DEPLOY_KV_TEMPORAL_TLS_KEY:-temporal-tls-client-key}")
        export TEMPORAL_TLS_CLIENT_CERT_DATA TEMPORAL_TLS_CLIENT_KEY_DATA
    else
        TEMPORAL_API_KEY=$(kv_secret "${DEPLOY_KV_TEMPORAL_API_KEY:-temporal-api-key}")
        export TEMPORAL_API_KEY
    fi
}

temporal_versioning_enabled() {
    [ "${DEPLOY_TEMPORAL_VERSIONING:-true}" = true ]
}

temporal_deployment() {
    printf '%s' "${DEPLOY_TEMPORAL_DEPLOYMENT:-orderflow}"
}

# Prints "ok" once the worker version BUILD_ID has registered (a worker of it polled).
temporal_version_state() {
    if temporal worker deployment describe-version --deployment-name "$(temporal_deployment)" \
        --build-id "$1" -o json >/dev/null; then
        echo ok
    else
        echo waiting
    fi
}

# switch_temporal_version BUILD_ID: wait until workers of BUILD_ID poll, then make it current.
switch_temporal_version() {
    local build_id=$1
    wait_until "temporal version $build_id polling" temporal_version_state "$build_id" ||
        die "no worker of build $build_id polls Temporal; current version left unchanged"
    temporal worker deployment set-current-version --deployment-name "$(temporal_deployment)" \
        --build-id "$build_id" --yes
}

# serving_revision APP: the revision that takes all of APP's traffic, by name. Azure's initial
# state (what ARM writes: latestRevision true, weight 100) names no revision: then it is the
# latest *ready* revision, empty when none ever became ready. Exit 2 when traffic is split.
serving_revision() {
    az containerapp show -n "$1" -g "$RG" \
        --query "{traffic: properties.configuration.ingress.traffic, latestReady: properties.latestReadyRevisionName}" \
        -o json | python3 -c '
import json, sys
app = json.load(sys.stdin)
full = [t for t in app["traffic"] or [] if int(t.get("weight") or 0) == 100]
if not full:
    sys.exit(2)
print(app["latestReady"] or "" if full[0].get("latestRevision") else full[0]["revisionName"])
'
}

# api_label_url LABEL: https URL of the api's revision carrying LABEL (<app>---<label>.<domain>).
api_label_url() {
    local fqdn
    fqdn=$(az containerapp show -n "$API" -g "$RG" --query properties.configuration.ingress.fqdn -o tsv)
    [ -n "$fqdn" ] || die "$API has no ingress FQDN"
    printf 'https://%s---%s.%s' "${fqdn%%.*}" "$1" "${fqdn#*.}"
}
