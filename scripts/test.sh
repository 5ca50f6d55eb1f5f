#!/usr/bin/env bash
# Install everything the tests need (Python packages into .venv, Debian packages for the real services
# and the browser) and run the whole test suite. The tests start the real services they use (Mosquitto,
# InfluxDB, VictoriaMetrics) themselves, on 127.0.0.1 and free ports, and stop them by PID
# (tests/fixtures_services.py).
#   ./scripts/test.sh            # everything
#   ./scripts/test.sh -k capture # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install.sh test
# shellcheck disable=SC1091
. .venv/bin/activate

python -m pytest "$@"
