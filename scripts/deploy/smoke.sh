#!/usr/bin/env bash
# Smoke test of one Orderflow deployment through one API base URL (a revision's URL or the app's).
#
#   scripts/deploy/smoke.sh ENV BASE_URL
#
# 1. GET BASE_URL/health/ready answers 200 (polled: a new revision needs a moment to start).
# 2. With DEPLOY_SMOKE_ORDER=true (default in dev and staging, never in prod): one order
#    through the whole pipeline. `orderflow produce` publishes it to order.create.v1 on Event
#    Hubs with the Send-only `smoke` rule's connection string (Key Vault), then the API is polled
#    until the order is Open (StatusCode 1000). The API token is read from Key Vault too.
#
# The api's ingress admits the gateway's and the runners' subnets only, and Key Vault and Event
# Hubs are private: this runs on the environment's runner (decision 0016). Needs: az (logged in
# as the deployer), curl, python3, and `orderflow` on PATH (or ORDERFLOW_CLI) for the order.
# Settings: see lib.sh; SMOKE_ORDER_ID fixes the order ID (default smoke-<UTC timestamp>-
# <random>), DEPLOY_KAFKA_BOOTSTRAP the Event Hubs endpoint (default: the ARM output).
set -euo pipefail
# shellcheck source=scripts/deploy/lib.sh
source "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || die "usage: $0 ENV BASE_URL"
env_name=$1
base_url=${2%/}
resource_names "$env_name"
[ -n "${KEY_VAULT:-}" ] || load_outputs

if [ -z "${DEPLOY_SMOKE_ORDER:-}" ]; then
    case "$env_name" in
        prod) DEPLOY_SMOKE_ORDER=false ;;
        *) DEPLOY_SMOKE_ORDER=true ;;
    esac
fi

ready_state() {
    if curl -fsS --max-time 10 -o /dev/null "$base_url/health/ready"; then echo ok; else echo waiting; fi
}
wait_until "$base_url/health/ready" ready_state || die "$base_url is not ready"
log "ready: $base_url"

[ "$DEPLOY_SMOKE_ORDER" = true ] || exit 0

order_id=${SMOKE_ORDER_ID:-smoke-$(date -u +%Y%m%d%H%M%S)-$RANDOM}
order=$(printf '{"MessageID":"%s","OrderID":"%s","ShipFromLocationID":"SMOKE","OrderLines":[{"OrderLineID":"1","ItemID":"SMOKE-ITEM","Quantity":"1","UnitPrice":"1.00"}],"OrderSubTotal":"1.00","OrderTotal":"1.00"}' \
    "$order_id" "$order_id")

api_token=$(kv_secret "${DEPLOY_KV_API_TOKEN:-api-token}")
kafka_password=$(kv_secret "${DEPLOY_KV_KAFKA_PASSWORD:-kafka-sasl-password-smoke}")
# Settings for this one command only (Event Hubs' Kafka endpoint, DESIGN.md).
printf '%s' "$order" | env \
    ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS="${DEPLOY_KAFKA_BOOTSTRAP:-$KAFKA_BOOTSTRAP}" \
    ORDERFLOW_KAFKA__SECURITY_PROTOCOL=SASL_SSL \
    ORDERFLOW_KAFKA__SASL_MECHANISM=PLAIN \
    ORDERFLOW_KAFKA__SASL_USERNAME="\$ConnectionString" \
    ORDERFLOW_KAFKA__SASL_PASSWORD="$kafka_password" \
    ORDERFLOW_KAFKA__ENABLE_IDEMPOTENCE=true \
    "${ORDERFLOW_CLI:-orderflow}" produce -
log "produced order $order_id"

# The token goes to curl through a header file on stdin, never on its command line.
order_state() {
    local body
    body=$(printf 'Authorization: Bearer %s\n' "$api_token" |
        curl -fsS --max-time 10 -H @- "$base_url/orders/$order_id") || {
        echo waiting
        return 0
    }
    printf '%s' "$body" | python3 -c '
import json, sys
try:
    status = json.load(sys.stdin).get("StatusCode")
except (ValueError, AttributeError):
    status = None
print("ok" if status == 1000 else f"status {status}")
'
}
wait_until "order $order_id Open" order_state || die "order $order_id did not reach status 1000"
log "order $order_id is Open (1000)"
