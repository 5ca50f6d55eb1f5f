#!/usr/bin/env bash
# Install StrideGuard into .venv and replay the bundled fatigue run: live view, alerts, stored session.
#   ./scripts/demo.sh                 # extra arguments go to `strideguard demo`, e.g. --web, --speed 1
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh run
exec .venv/bin/strideguard demo "$@"
