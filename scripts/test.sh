#!/usr/bin/env bash
# Install everything, then lint, type-check and run the whole test suite (unit + integration).
# The tests start their own PostgreSQL database, broker and Temporal servers on free ports —
# one set per test worker: pytest runs ORDERFLOW_TEST_WORKERS (default 2) worker processes, a
# test file at a time each (most integration tests wait on processes and servers, so two
# workers nearly halve the time on 2 cores). Pass `-n 0` to run in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
.venv/bin/orderflow schemas check
.venv/bin/lint-imports
exec .venv/bin/pytest -n "${ORDERFLOW_TEST_WORKERS:-2}" --dist loadfile "$@"
