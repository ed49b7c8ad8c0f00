# shellcheck shell=bash
# Shared by deploy.sh, rollback.sh and smoke.sh (sourced, not run): resource names, settings,
# logging and polling. Every name follows DESIGN.md: {app}-{env}-{region}-{kind}.
#
# Settings (environment variables; none is a secret):
#   DEPLOY_APP              application name in resource names       (default orderflow)
#   DEPLOY_REGION           region short code in resource names      (default weu)
#   DEPLOY_POLL_S           seconds between two polls                (default 10)
#   DEPLOY_WAIT_ATTEMPTS    polls before a wait gives up             (default 90, i.e. 15 min)
#   DEPLOY_TEMPORAL_VERSIONING  true: switch Temporal's current worker version (default true)
#   DEPLOY_TEMPORAL_DEPLOYMENT  Worker Deployment name  (default orderflow, as
#                           ORDERFLOW_WORKER__DEPLOYMENT_NAME)
#   DEPLOY_KV_API_TOKEN     Key Vault secret: the API bearer token   (default api-token)
#   DEPLOY_KV_KAFKA_PASSWORD  Key Vault secret: Event Hubs connection string
#                           (default kafka-sasl-password)
#   DEPLOY_KV_TEMPORAL_API_KEY  Key Vault secret: Temporal Cloud API key (default temporal-api-key)
#   TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE  where the temporal CLI connects (its own variables;
#                           default: the worker app's ORDERFLOW_TEMPORAL__ADDRESS/NAMESPACE);
#                           TEMPORAL_API_KEY or TEMPORAL_TLS_CLIENT_CERT_PATH/KEY_PATH, else the
#                           API key is read from Key Vault.

# The worker's build ID setting (shared decisions); deploy writes it on every worker revision so
# the revision history says which Temporal version each image is.
export BUILD_ID_SETTING=ORDERFLOW_WORKER__BUILD_ID
# The API revision rollback.sh returns to.
export PREVIOUS_LABEL=previous

log() {
    printf '%s %s\n' "[$(basename "$0")]" "$*" >&2
}

die() {
    log "ERROR: $*"
    exit 1
}

# resource_names ENV: sets RG, API, WORKER, BRIDGE, SETUP_JOB, KEY_VAULT, EVENT_HUBS.
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
    KEY_VAULT="${prefix}-kv"
    EVENT_HUBS="${prefix}-evh"
    export RG API WORKER BRIDGE SETUP_JOB KEY_VAULT EVENT_HUBS
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

# temporal_login: the temporal CLI reads TEMPORAL_ADDRESS/NAMESPACE/API_KEY itself. Address and
# namespace default to the worker's own settings (one fact, one place); the API key comes from
# Key Vault unless an API key or a client certificate is already configured.
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
    if [ -z "${TEMPORAL_API_KEY:-}" ] && [ -z "${TEMPORAL_TLS_CLIENT_CERT_PATH:-}" ]; then
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

# Prints "done" once the worker version BUILD_ID has registered (a worker of it polled).
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

# The revision of APP that takes all traffic (empty while traffic follows "latest").
serving_revision() {
    az containerapp ingress traffic show -n "$1" -g "$RG" \
        --query "[?weight==\`100\`].revisionName | [0]" -o tsv
}
