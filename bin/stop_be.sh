#!/usr/bin/env bash
# Stops the backend started by bin/start_be.sh (SIGTERM, then waits; --force: SIGKILL after 30 s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
force=0
[ "${1:-}" = "--force" ] && force=1
pid_file="$PID_DIR/be.pid"
if [ ! -f "$pid_file" ]; then
    echo "no $pid_file: the backend is not running (or was not started by bin/start_be.sh)" >&2
    exit 1
fi
pid=$(cat "$pid_file")
if ! pid_alive "$pid"; then
    echo "backend (pid $pid) is not running; removing $pid_file"
    rm -f "$pid_file"
    exit 0
fi
kill -TERM "$pid"
for _ in $(seq 1 300); do
    pid_alive "$pid" || { rm -f "$pid_file"; echo "backend (pid $pid) stopped"; exit 0; }
    sleep 0.1
done
if [ "$force" = 1 ]; then
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pid_file"
    echo "backend (pid $pid) killed"
    exit 0
fi
echo "backend (pid $pid) did not stop within 30 s; run $0 --force to kill it" >&2
exit 1
