#!/usr/bin/env bash
# Idempotent installer.  `install.sh run` puts StrideGuard into .venv; `install.sh test` adds the test
# tools, the peers' venv (.venv-peers), the Debian services the tests start (Mosquitto, InfluxDB 1.x,
# VictoriaMetrics), docker-compose (to validate the compose file offline) and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-run}

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if [ "$what" = test ]; then
  "${pip[@]}" -e '.[test]'
  ./scripts/peers_venv.sh   # mobgap and scikit-digital-health, for the side-by-side validation tests
  debs=(mosquitto influxdb victoria-metrics chromium docker-compose)
  missing=()
  for d in "${debs[@]}"; do dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts services it installs where an init system runs; the tests start their own.
    for s in mosquitto influxdb victoria-metrics; do
      $sudo_ service "$s" stop >/dev/null 2>&1 || true
    done
  fi
else
  "${pip[@]}" -e .
fi
