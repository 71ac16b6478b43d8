#!/usr/bin/env bash
# Sets up everything the tests need (scripts/setup.sh test) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"  # ansible-inventory and friends come with the test extras
exec .venv/bin/python -m pytest "$@"
