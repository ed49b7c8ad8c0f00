#!/usr/bin/env bash
# Install everything, then run the whole local stack in the foreground (Ctrl-C stops it all).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/orderflow dev "$@"
