#!/usr/bin/env bash
# Regenerate requirements/runtime.lock: every package the container image installs, pinned with
# the sha256 of each of its distributions, resolved for the image's interpreter (CPython 3.11 on
# x86_64 Linux), from [project].dependencies in pyproject.toml only (no extras: the dev tools and
# the local services never reach the image).
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
"$uv" pip compile pyproject.toml \
    --quiet \
    --no-config \
    --generate-hashes \
    --python-version "$PYTHON_VERSION" \
    --python-platform "$PYTHON_PLATFORM" \
    --custom-compile-command "scripts/lock.sh" \
    --output-file "$LOCK" \
    "$@"

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
# Index URLs never belong in the committed lock (uv omits them unless asked; this is a guard).
grep -v -E '^--(index-url|extra-index-url|find-links|trusted-host)' "$tmp" >"$LOCK"
echo "lock.sh: wrote $LOCK ($(grep -c '^[a-z0-9]' "$LOCK") packages)"
