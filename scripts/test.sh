#!/usr/bin/env bash
# Install everything the tests need (Python packages into .venv, Debian packages for the real services
# and the browser), start the services on 127.0.0.1, run the whole test suite, stop what was started.
#   ./scripts/test.sh            # everything
#   ./scripts/test.sh -k capture # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install.sh test
# shellcheck disable=SC1091
. .venv/bin/activate

./scripts/services.sh start
trap './scripts/services.sh stop' EXIT

python -m pytest "$@"
