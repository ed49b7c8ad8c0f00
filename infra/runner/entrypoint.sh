#!/usr/bin/env bash
# Entry point of the runner image: register one ephemeral runner, run one job, exit. Each
# execution of the Container Apps job (started by KEDA's github-runner scaler when a job with
# this environment's label is queued) is one runner, gone with its job.
#
# Environment (set by infra/arm/modules/runners.json):
#   RUNNER_GITHUB_TOKEN  token allowed to create runner registration tokens for the repository
#                        (Key Vault secret github-runner-token); removed before the job starts
#   GITHUB_REPOSITORY    owner/name
#   RUNNER_LABELS        this environment's label, e.g. orderflow-prod
#   RUNNER_HOME          where GitHub's runner is installed (default /home/runner)
#   GITHUB_API_URL       default https://api.github.com
set -euo pipefail
: "${RUNNER_GITHUB_TOKEN:?}" "${GITHUB_REPOSITORY:?}" "${RUNNER_LABELS:?}"
api=${GITHUB_API_URL:-https://api.github.com}

# The token goes to curl as a header on standard input, never on a command line.
registration=$(printf 'Authorization: Bearer %s\n' "$RUNNER_GITHUB_TOKEN" |
    curl -fsS -X POST -H "Accept: application/vnd.github+json" -H @- \
        "$api/repos/$GITHUB_REPOSITORY/actions/runners/registration-token" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
# The job's steps inherit this process's environment: the repository token must not be in it.
unset RUNNER_GITHUB_TOKEN
[ -n "$registration" ] || { echo "no registration token for $GITHUB_REPOSITORY" >&2; exit 1; }

cd "${RUNNER_HOME:-/home/runner}"
./config.sh --unattended --ephemeral --disableupdate \
    --url "https://github.com/$GITHUB_REPOSITORY" --token "$registration" \
    --labels "$RUNNER_LABELS" --name "${CONTAINER_APP_REPLICA_NAME:-$(hostname)}"
exec ./run.sh
