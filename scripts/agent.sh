#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the agent; with no arguments it monitors this host
# on the embedded default config and serves http://127.0.0.1:9469/metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh agent
exec .venv/bin/egov-agent run "$@"
