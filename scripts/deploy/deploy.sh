#!/usr/bin/env bash
# Deploy one release to one environment, blue-green for the API.
#
#   DEPLOY_BUILD_ID=<git sha> scripts/deploy/deploy.sh ENV SOURCE/orderflow@sha256:DIGEST
#
# The release is one digest, built and scanned once (deploy.yml). It runs from this environment's
# own registry (decision 0014): the script imports the digest there first, then every app, the
# setup job and their revisions use <registry>/orderflow@sha256:DIGEST.
#
# Steps (each an az or temporal command; the tests run them against a model of Azure):
#  0. import: `az acr import` of SOURCE@DIGEST into the environment's registry (tag = build ID),
#     then the digest is read back from that registry: what the apps will pull exists there.
#     Skipped when SOURCE already is that registry.
#  1. setup job: `orderflow setup` (migrations, topic verification, search attributes) runs with
#     the new image and must succeed before anything serves it. Migrations are backward
#     compatible by rule (docs/operations/rollback.md), so the old revisions keep working.
#  2. API (multiple-revision mode): the serving revision is found even in Azure's initial state
#     (traffic `latestRevision: true`, no name: the latest ready revision) and traffic is pinned
#     to it by name, so the new revision (suffix g<sha7>) starts at 0 %. Once provisioned it gets
#     the label `candidate` and is smoke-tested on that label's URL. Failure: the new revision is
#     deactivated, the serving one never is, traffic never moved, exit 1.
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
# -<attempt> on a re-run of the same workflow). DEPLOY_SOURCE_USERNAME/_PASSWORD: credentials
# for the source registry (GitHub's: the workflow's token). Other settings: lib.sh.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=scripts/deploy/lib.sh
source "$here/lib.sh"

[ $# -eq 2 ] || die "usage: $0 ENV SOURCE/orderflow@sha256:DIGEST"
env_name=$1
source_image=$2
digest=${source_image##*@}
[[ "$source_image" == *@sha256:* && "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] ||
    die "deploy an image by digest (REGISTRY/orderflow@sha256:<64 hex>), got '$source_image'"
build_id=${DEPLOY_BUILD_ID:-${GITHUB_SHA:-}}
[ -n "$build_id" ] || die "DEPLOY_BUILD_ID (the image tag, a git SHA) is not set"
suffix=${DEPLOY_REVISION_SUFFIX:-g${build_id:0:7}}
if [ -z "${DEPLOY_REVISION_SUFFIX:-}" ] && [ "${GITHUB_RUN_ATTEMPT:-1}" != 1 ]; then
    suffix="${suffix}-${GITHUB_RUN_ATTEMPT}"
fi
resource_names "$env_name"
load_outputs
new_revision="${API}--${suffix}"
image="${REGISTRY_SERVER}/${IMAGE_REPOSITORY}@${digest}"

log "deploying $image (build $build_id) to $env_name as revision suffix $suffix"

# --- 0. the release into this environment's registry -------------------------------------------
if [ "${source_image%%/*}" != "$REGISTRY_SERVER" ]; then
    credentials=()
    if [ -n "${DEPLOY_SOURCE_USERNAME:-}" ]; then
        credentials=(--username "$DEPLOY_SOURCE_USERNAME" --password "${DEPLOY_SOURCE_PASSWORD:-}")
    fi
    az acr import --name "$REGISTRY" --source "$source_image" \
        --image "${IMAGE_REPOSITORY}:${build_id}" --force "${credentials[@]}" >/dev/null ||
        die "could not import $source_image into $REGISTRY"
fi
imported=$(az acr manifest show-metadata --registry "$REGISTRY" \
    --name "${IMAGE_REPOSITORY}@${digest}" --query digest -o tsv) || imported=""
[ "$imported" = "$digest" ] || die "$REGISTRY has no ${IMAGE_REPOSITORY}@${digest}; nothing changed"
if temporal_versioning_enabled; then temporal_login; fi

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

# --- 2. API: new revision at 0 %, smoke-tested on its label ----------------------------------------
status=0
serving=$(serving_revision "$API") || status=$?
[ "$status" -eq 0 ] ||
    die "$API's traffic is split between revisions: finish or roll back that rollout first"
[ "$serving" != "$new_revision" ] || die "$new_revision already serves; set DEPLOY_REVISION_SUFFIX"
if [ -n "$serving" ]; then
    # By name: the new revision becomes the latest and must not inherit "latest"'s weight.
    az containerapp ingress traffic set -n "$API" -g "$RG" --revision-weight "$serving=100" >/dev/null
else
    log "no revision of $API ever became ready: the new one takes the traffic once it passes"
fi
az containerapp update -n "$API" -g "$RG" --image "$image" --revision-suffix "$suffix" >/dev/null ||
    die "$API rejected revision $new_revision; traffic stays on ${serving:-none}"
# Deactivates the new revision (never the serving one) and stops.
abandon() {
    if [ -n "$serving" ]; then
        az containerapp revision deactivate -n "$API" -g "$RG" --revision "$new_revision" >/dev/null
    fi
    die "$1; traffic stays on ${serving:-none}"
}
revision_state() {
    local state
    state=$(az containerapp revision show -n "$API" -g "$RG" --revision "$new_revision" \
        --query properties.provisioningState -o tsv)
    case "$state" in
        Provisioned) echo ok ;;
        Failed | Deprovisioned) echo failed ;;
        *) echo "$state" ;;
    esac
}
wait_until "revision $new_revision provisioned" revision_state ||
    abandon "revision $new_revision was not provisioned (image pull, probes: see its system logs)"
az containerapp revision label add -n "$API" -g "$RG" --label "$CANDIDATE_LABEL" \
    --revision "$new_revision" --yes >/dev/null
"$here/smoke.sh" "$env_name" "$(api_label_url "$CANDIDATE_LABEL")" ||
    abandon "smoke test of $new_revision failed: it is deactivated"

# --- 3. traffic switch; the old revision stays active as `previous` -----------------------------
if [ -n "$serving" ]; then
    az containerapp ingress traffic set -n "$API" -g "$RG" \
        --revision-weight "$new_revision=100" "$serving=0" >/dev/null
    az containerapp revision label add -n "$API" -g "$RG" --label "$PREVIOUS_LABEL" \
        --revision "$serving" --yes >/dev/null
else
    az containerapp ingress traffic set -n "$API" -g "$RG" --revision-weight "$new_revision=100" >/dev/null
fi
stale=$(az containerapp revision list -n "$API" -g "$RG" \
    --query "[?properties.active && name!='$new_revision' && name!='${serving:-}'].name" -o tsv)
for revision in $stale; do
    az containerapp revision deactivate -n "$API" -g "$RG" --revision "$revision" >/dev/null
done
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
