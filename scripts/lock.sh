#!/usr/bin/env bash
# Regenerate the image's locks, each package pinned with the sha256 of each of its distributions
# and resolved for the image's interpreter (CPython 3.11 on x86_64 Linux):
#   requirements/runtime.lock  [project].dependencies of pyproject.toml only (no extras: the dev
#                              tools and the local services never reach the image)
#   requirements/build.lock    [build-system].requires (hatchling), so the image builds the app
#                              wheel without fetching an unpinned build backend
#   requirements/deploy.lock   requirements/deploy.in: the deploy jobs' tools (temporal CLI)
#
#   scripts/lock.sh                       keep current pins where they still satisfy pyproject
#   scripts/lock.sh --upgrade             newest versions of everything
#   scripts/lock.sh --upgrade-package X   newest X only (uv option; repeatable)
#
# Extra arguments go to `uv pip compile`. The lock also records a digest of the dependency list so
# a test fails as soon as pyproject.toml changes without a new lock (tests/infra/test_deps_lock.py).
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep in step with the Dockerfile's base image (python:3.11-…).
PYTHON_VERSION=3.11
PYTHON_PLATFORM=x86_64-unknown-linux-gnu
LOCK=requirements/runtime.lock
BUILD_LOCK=requirements/build.lock
DEPLOY_LOCK=requirements/deploy.lock

if [ -n "${UV:-}" ]; then
    uv="$UV"
elif [ -x .venv-tools/bin/uv ]; then
    uv=.venv-tools/bin/uv
elif command -v uv >/dev/null 2>&1; then
    uv=$(command -v uv)
else
    echo "lock.sh: uv not found; run scripts/bootstrap.sh (it installs requirements/tools.txt)" >&2
    exit 1
fi

# --no-config: a developer's own uv.toml (another index, other defaults) must not shape the lock.
# Hashes cover every distribution of each pinned version, so the same lock serves any Linux
# base image (glibc or musl) that has wheels for it.
compile() {
    "$uv" pip compile \
        --quiet \
        --no-config \
        --generate-hashes \
        --python-version "$PYTHON_VERSION" \
        --python-platform "$PYTHON_PLATFORM" \
        --custom-compile-command "scripts/lock.sh" \
        "$@"
}
extra_args=("$@")
compile pyproject.toml --output-file "$LOCK" "${extra_args[@]}"
python3 -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' |
    compile - --output-file "$BUILD_LOCK" "${extra_args[@]}"
compile requirements/deploy.in --output-file "$DEPLOY_LOCK" "${extra_args[@]}"

# The digest of the sorted, stripped [project].dependencies strings; the test recomputes it.
digest=$(python3 - <<'PY'
import hashlib
import tomllib

with open("pyproject.toml", "rb") as handle:
    dependencies = tomllib.load(handle)["project"]["dependencies"]
text = "\n".join(sorted(item.strip() for item in dependencies))
print(hashlib.sha256(text.encode()).hexdigest())
PY
)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
    grep -v '^# pyproject-dependencies-sha256:' "$LOCK" | sed -n '1,2p'
    echo "# pyproject-dependencies-sha256: $digest"
    grep -v '^# pyproject-dependencies-sha256:' "$LOCK" | sed '1,2d'
} >"$tmp"
cp "$tmp" "$LOCK"
for file in "$LOCK" "$BUILD_LOCK" "$DEPLOY_LOCK"; do
    # Index URLs never belong in a committed lock (uv omits them unless asked; this is a guard).
    if grep -q -E '^--(index-url|extra-index-url|find-links|trusted-host)|://' "$file"; then
        echo "lock.sh: $file names an index or URL; remove it before committing" >&2
        exit 1
    fi
    echo "lock.sh: wrote $file ($(grep -c '^[a-z0-9]' "$file") packages)"
done
