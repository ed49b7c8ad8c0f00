#!/usr/bin/env bash
# Deploy one image to one environment, blue-green for the API.
#
#   DEPLOY_BUILD_ID=<git sha> scripts/deploy/deploy.sh ENV REGISTRY/orderflow@sha256:DIGEST
#
# Steps (each an az or temporal command; the test asserts the exact sequence):
#  1. setup job: `orderflow setup` (migrations, topic verification, search attributes) runs with
#     the NEW image and must succeed before anything serves it. Migrations are backward
#     compatible by rule (docs/operations/rollback.md), so the old revisions keep working.
#  2. API (multiple-revision mode): traffic pinned to the serving revision, a new revision
#     (suffix g<sha7>) at 0 %, smoke test against its own URL. Failure: the new revision is
#     deactivated, traffic never moved, exit 1.
#  3. traffic switch to the new revision; the old one is labelled `previous` and stays active
#     (rollback.sh moves traffic back to it); older revisions are deactivated.
#  4. worker (single-revision mode): new revision with the new image; once its workers poll
#     Temporal, its build ID becomes the Worker Deployment's current version.
#  5. bridge (single-revision mode): new revision with the new image; the consumer group
#     rebalances onto it.
#  6. smoke test through the app's own URL (in dev/staging an order through the new worker and
#     bridge). Failure: exit 1; run rollback.sh.
#
# DEPLOY_BUILD_ID (default GITHUB_SHA) is the image tag and the worker's build ID;
# DEPLOY_REVISION_SUFFIX overrides the revision suffix (default g<first 7 of the build ID>, plus
# -<attempt> on a re-run of the same workflow). Other settings: lib.sh.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=scripts/deploy/lib.sh
source "$here/lib.sh"

[ $# -eq 2 ] || die "usage: $0 ENV IMAGE@sha256:DIGEST"
env_name=$1
image=$2
case "$image" in
    *@sha256:*) ;;
    *) die "deploy an image by digest (REGISTRY/orderflow@sha256:...), got '$image'" ;;
esac
build_id=${DEPLOY_BUILD_ID:-${GITHUB_SHA:-}}
[ -n "$build_id" ] || die "DEPLOY_BUILD_ID (the image tag, a git SHA) is not set"
suffix=${DEPLOY_REVISION_SUFFIX:-g${build_id:0:7}}
if [ -z "${DEPLOY_REVISION_SUFFIX:-}" ] && [ "${GITHUB_RUN_ATTEMPT:-1}" != 1 ]; then
    suffix="${suffix}-${GITHUB_RUN_ATTEMPT}"
fi
resource_names "$env_name"
new_revision="${API}--${suffix}"
if temporal_versioning_enabled; then temporal_login; fi

log "deploying $image (build $build_id) to $env_name as revision suffix $suffix"

# --- 1. setup job with the new image -----------------------------------------------------------
az containerapp job update -n "$SETUP_JOB" -g "$RG" --image "$image" >/dev/null
execution=$(az containerapp job start -n "$SETUP_JOB" -g "$RG" --query name -o tsv)
[ -n "$execution" ] || die "the setup job did not start"
setup_state() {
    local status
    status=$(az containerapp job execution show -n "$SETUP_JOB" -g "$RG" \
        --job-execution-name "$execution" --query properties.status -o tsv)
    case "$status" in
        Succeeded) echo ok ;;
        Failed | Stopped | Degraded) echo failed ;;
        *) echo "$status" ;;
    esac
}
wait_until "setup job $execution" setup_state ||
    die "setup job $execution did not succeed; nothing else changed (see its logs in Log Analytics)"

# --- 2. API: new revision at 0 % and its smoke test ---------------------------------------------
serving=$(serving_revision "$API")
if [ -n "$serving" ]; then
    # Pin the traffic to the serving revision, so the new revision starts at 0 %.
    az containerapp ingress traffic set -n "$API" -g "$RG" --revision-weight "$serving=100" >/dev/null
else
    log "no revision holds all traffic (first deployment?): the new revision gets it directly"
fi
az containerapp update -n "$API" -g "$RG" --image "$image" --revision-suffix "$suffix" >/dev/null
revision_fqdn=$(az containerapp revision show -n "$API" -g "$RG" --revision "$new_revision" \
    --query properties.fqdn -o tsv)
if ! "$here/smoke.sh" "$env_name" "https://$revision_fqdn"; then
    az containerapp revision deactivate -n "$API" -g "$RG" --revision "$new_revision" >/dev/null
    die "smoke test of $new_revision failed: it is deactivated, traffic stays on ${serving:-latest}"
fi

# --- 3. traffic switch; the old revision stays active as `previous` -----------------------------
if [ -n "$serving" ] && [ "$serving" != "$new_revision" ]; then
    az containerapp ingress traffic set -n "$API" -g "$RG" \
        --revision-weight "$new_revision=100" "$serving=0" >/dev/null
    az containerapp revision label add -n "$API" -g "$RG" --label "$PREVIOUS_LABEL" \
        --revision "$serving" --yes >/dev/null
    stale=$(az containerapp revision list -n "$API" -g "$RG" \
        --query "[?properties.active && name!='$new_revision' && name!='$serving'].name" -o tsv)
    for revision in $stale; do
        az containerapp revision deactivate -n "$API" -g "$RG" --revision "$revision" >/dev/null
    done
fi
log "API traffic on $new_revision (previous: ${serving:-none})"

# --- 4. worker, then its Temporal version becomes current ---------------------------------------
# The build ID is written on the revision too: the revision history then says which image is
# which Temporal version (rollback.sh reads it there).
az containerapp update -n "$WORKER" -g "$RG" --image "$image" --revision-suffix "$suffix" \
    --set-env-vars "$BUILD_ID_SETTING=$build_id" >/dev/null
if temporal_versioning_enabled; then
    switch_temporal_version "$build_id"
fi

# --- 5. bridge ------------------------------------------------------------------------------------
az containerapp update -n "$BRIDGE" -g "$RG" --image "$image" --revision-suffix "$suffix" >/dev/null

# --- 6. the whole pipeline on the new release -----------------------------------------------------
app_fqdn=$(az containerapp show -n "$API" -g "$RG" --query properties.configuration.ingress.fqdn -o tsv)
"$here/smoke.sh" "$env_name" "https://$app_fqdn" ||
    die "post-deployment smoke test failed; roll back with scripts/deploy/rollback.sh $env_name"
log "deployed $image to $env_name"
