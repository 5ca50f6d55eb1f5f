#!/usr/bin/env bash
# Install everything the tests need (Python packages into .venv, Debian packages for the real services
# and the browser), run the quality gates (ruff lint and format check, mypy) and the test suite. The
# tests start the real services they use (Mosquitto, InfluxDB, VictoriaMetrics) themselves, on
# 127.0.0.1 and free ports, and stop them by PID (tests/fixtures_services.py).
#   ./scripts/test.sh              # gates + every test (what CI runs)
#   ./scripts/test.sh --fast       # gates + the quick tests (-m "not slow"), for the edit-test loop
#   ./scripts/test.sh -k capture   # other arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

fast=0
args=()
for arg in "$@"; do
  if [ "$arg" = --fast ]; then fast=1; else args+=("$arg"); fi
done

./scripts/install.sh test
# shellcheck disable=SC1091
. .venv/bin/activate

echo "== ruff (lint, format)" >&2
ruff check --quiet .
ruff format --check --quiet .
echo "== mypy" >&2
mypy
# As root (CI) the full-disk tests mount real tmpfs disks: there they must run, never skip.
if [ "$(id -u)" = 0 ]; then export STRIDEGUARD_REQUIRE_TMPFS=1; fi
echo "== pytest" >&2
if [ "$fast" = 1 ]; then
  python -m pytest -m "not slow" ${args[@]+"${args[@]}"}
else
  python -m pytest ${args[@]+"${args[@]}"}
fi
