#!/usr/bin/env bash
# Install everything, then lint, type-check and run the whole test suite (unit + integration).
# The tests start their own PostgreSQL database, broker and Temporal servers on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
.venv/bin/orderflow schemas check
exec .venv/bin/pytest "$@"
