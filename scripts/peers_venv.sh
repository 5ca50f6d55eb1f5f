#!/usr/bin/env bash
# Create (or refresh) .venv-peers: the established gait peers the validation harness compares against.
# They live in their own venv because they pin numpy/scipy versions other than StrideGuard's.
#   ./scripts/peers_venv.sh            # idempotent: installs only when the pinned versions are missing
#   PEERS_PYTHON=python3.11 ./scripts/peers_venv.sh
# Then: .venv/bin/python -m benchmarks.validate   (finds .venv-peers/bin/python by itself)
set -euo pipefail
cd "$(dirname "$0")/.."

py=${PEERS_PYTHON:-python3}
venv=.venv-peers
# Versions that install here from PyPI (checked 2026-11): one pip call so the resolver picks one numpy.
pins=(
  "mobgap==1.2.0"
  "scikit-digital-health==0.17.18"
)

if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
if "$venv/bin/python" - "${pins[@]}" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    if version(name) != want:
        sys.exit(1)
PY
  echo "peers already installed in $venv" >&2
  exit 0
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
"$venv/bin/python" -c "import mobgap, skdh; print('peers ready:', 'mobgap', mobgap.__version__, 'skdh', skdh.__version__)"
