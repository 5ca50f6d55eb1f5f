#!/usr/bin/env bash
# Start or stop the real services the tests use, bound to 127.0.0.1, under .run/ (PIDs, data, logs).
#   services.sh start | stop
# Each service is started by its own block; what a block starts it records in .run/<name>.pid.
set -euo pipefail
cd "$(dirname "$0")/.."
run=.run
mkdir -p "$run"

stop_all() {
  for pidfile in "$run"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-}" in
  start) stop_all ;;   # services are added here as the tests that need them arrive
  stop) stop_all ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
