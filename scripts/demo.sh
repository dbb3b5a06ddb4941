#!/usr/bin/env bash
# Starts the product on its embedded defaults: a private PostgreSQL, two local storage
# replicas and simulated cameras, all under ./var. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/vms serve "$@"
