#!/usr/bin/env bash
# Runs the checks and the test suite. Extra arguments go to pytest
# (default: everything but the suites marked slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check vms ingest analytics tests benchmarks
ruff format --check vms ingest analytics tests benchmarks
mypy
lint-imports
if [ "$#" -eq 0 ]; then set -- -m "not slow"; fi
# inside a private network namespace: WebRTC needs a non-loopback interface, and
# nothing the tests start can reach beyond it
exec bash scripts/netns.sh python -m pytest "$@"
