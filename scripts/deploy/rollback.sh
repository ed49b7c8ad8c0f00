#!/usr/bin/env bash
# Roll one environment back to the release before the last deployment.
#
#   scripts/deploy/rollback.sh ENV
#
#  1. API: traffic back to the revision labelled `previous` (deploy.sh keeps it active); the
#     revision rolled back from becomes `previous` in turn, so running this twice rolls forward.
#     Nothing changes when no revision carries the label (no blue-green deployment yet) or when
#     traffic is split (a rollout stopped half-way: finish it or move traffic by hand).
#  2. worker: a new revision with the image of the newest older revision whose image differs
#     from the current one (the revision history is the record), and that revision's build ID;
#     once its workers poll, that build ID is Temporal's current version again.
#  3. bridge: likewise, the previous image from its revision history.
#  4. database: nothing. Migrations are expand/contract (docs/operations/rollback.md): the
#     schema the new release migrated to still serves the previous release, so it stays.
#  5. verify: the API's /health/ready through the app's own URL.
#
# Settings: lib.sh.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=scripts/deploy/lib.sh
source "$here/lib.sh"

[ $# -eq 1 ] || die "usage: $0 ENV"
env_name=$1
resource_names "$env_name"
load_outputs
if temporal_versioning_enabled; then temporal_login; fi

# previous_release APP: "IMAGE<TAB>BUILD_ID" of the newest revision of APP whose image differs
# from the current one (BUILD_ID empty when that revision did not record one).
previous_release() {
    local app=$1 current history
    current=$(az containerapp show -n "$app" -g "$RG" \
        --query "properties.template.containers[0].image" -o tsv)
    history=$(az containerapp revision list -n "$app" -g "$RG" --all \
        --query "sort_by([], &properties.createdTime)[].[properties.template.containers[0].image, properties.template.containers[0].env[?name=='$BUILD_ID_SETTING'].value | [0]]" \
        -o tsv)
    printf '%s\n' "$history" | CURRENT="$current" python3 -c '
import os, sys
rows = [line.rstrip("\n").split("\t") for line in sys.stdin if line.strip()]
older = [row for row in rows if row[0] != os.environ["CURRENT"]]
if older:
    image, build_id = (older[-1] + [""])[:2]
    print(image, "" if build_id == "None" else build_id, sep="\t")
'
}

# --- 1. API traffic back to `previous` -----------------------------------------------------------
previous=$(az containerapp ingress traffic show -n "$API" -g "$RG" \
    --query "[?label=='$PREVIOUS_LABEL'].revisionName | [0]" -o tsv)
[ -n "$previous" ] || die "$API has no revision labelled '$PREVIOUS_LABEL': nothing to roll back to"
status=0
serving=$(serving_revision "$API") || status=$?
[ "$status" -eq 0 ] || die "$API's traffic is split between revisions: move it by hand"
[ "$serving" != "$previous" ] || die "$previous (labelled $PREVIOUS_LABEL) already serves"
az containerapp revision activate -n "$API" -g "$RG" --revision "$previous" >/dev/null
if [ -n "$serving" ] && [ "$serving" != "$previous" ]; then
    az containerapp ingress traffic set -n "$API" -g "$RG" \
        --revision-weight "$previous=100" "$serving=0" >/dev/null
    az containerapp revision label add -n "$API" -g "$RG" --label "$PREVIOUS_LABEL" \
        --revision "$serving" --yes >/dev/null
else
    az containerapp ingress traffic set -n "$API" -g "$RG" --revision-weight "$previous=100" >/dev/null
fi
log "API traffic on $previous (was ${serving:-unknown})"

# --- 2. worker and its Temporal version ----------------------------------------------------------
worker_release=$(previous_release "$WORKER")
[ -n "$worker_release" ] || die "$WORKER has no older revision with another image"
worker_image=${worker_release%%$'\t'*}
worker_build_id=${worker_release#*$'\t'}
if [ -n "$worker_build_id" ]; then
    az containerapp update -n "$WORKER" -g "$RG" --image "$worker_image" \
        --set-env-vars "$BUILD_ID_SETTING=$worker_build_id" >/dev/null
else
    az containerapp update -n "$WORKER" -g "$RG" --image "$worker_image" >/dev/null
fi
if temporal_versioning_enabled; then
    [ -n "$worker_build_id" ] ||
        die "the previous worker revision records no $BUILD_ID_SETTING; set Temporal's current version by hand (docs/operations/rollback.md)"
    switch_temporal_version "$worker_build_id"
fi
log "worker on $worker_image (build ${worker_build_id:-unrecorded})"

# --- 3. bridge ------------------------------------------------------------------------------------
bridge_release=$(previous_release "$BRIDGE")
[ -n "$bridge_release" ] || die "$BRIDGE has no older revision with another image"
az containerapp update -n "$BRIDGE" -g "$RG" --image "${bridge_release%%$'\t'*}" >/dev/null
log "bridge on ${bridge_release%%$'\t'*}"

# --- 4. database: unchanged (expand/contract) -----------------------------------------------------
log "database: unchanged; the previous release runs on the current schema (expand/contract)"

# --- 5. verify --------------------------------------------------------------------------------------
app_fqdn=$(az containerapp show -n "$API" -g "$RG" --query properties.configuration.ingress.fqdn -o tsv)
DEPLOY_SMOKE_ORDER=false "$here/smoke.sh" "$env_name" "https://$app_fqdn" ||
    die "the API does not answer ready after the rollback"
log "rolled $env_name back"
