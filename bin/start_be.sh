#!/usr/bin/env bash
# Starts a Tessera backend, as StarRocks's start_be.sh does.
#   bin/start_be.sh [--daemon]
# Then add it to the cluster once, on any frontend:
#   ALTER SYSTEM ADD BACKEND "<be_host>:<heartbeat_service_port>"
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    echo "usage: $0 [--daemon]" >&2
    exit 2
}

daemon=0
while (($#)); do
    case "$1" in
        --daemon) daemon=1; shift ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
done

conf="$TESSERA_HOME/conf/be.conf"
[ -f "$conf" ] || { echo "config file $conf does not exist" >&2; exit 1; }
bin=$(find_tessera_binary)
log_dir=$(conf_value "$conf" sys_log_dir)
log_dir="${log_dir:-$TESSERA_HOME/log}"
mkdir -p "$log_dir" "$PID_DIR"
pid_file="$PID_DIR/be.pid"
if [ -f "$pid_file" ] && pid_alive "$(cat "$pid_file")"; then
    echo "Backend running as process $(cat "$pid_file"). Stop it first." >&2
    exit 1
fi

args=(be --conf "$conf")

if [ "$daemon" = 1 ]; then
    log="$log_dir/be.log"
    # Only lines written by this start count when looking for "backend started".
    start_line=1
    if [ -f "$log" ]; then start_line=$(($(wc -l <"$log") + 1)); fi
    nohup "$bin" "${args[@]}" >>"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pid_file"
    # Report a start-up failure (bad config, port in use, storage root in use) instead of
    # hiding it.
    heartbeat_port=$(conf_value "$conf" heartbeat_service_port)
    for _ in $(seq 1 100); do
        if ! pid_alive "$pid"; then
            rm -f "$pid_file"
            echo "backend failed to start; the end of $log:" >&2
            tail -n 20 "$log" >&2
            exit 1
        fi
        if tail -n "+$start_line" "$log" 2>/dev/null | grep -q "backend started"; then
            echo "backend started (pid $pid, heartbeat_service_port ${heartbeat_port:-9050}); log: $log"
            exit 0
        fi
        sleep 0.1
    done
    echo "backend is still starting (pid $pid); log: $log"
else
    echo "$$" >"$pid_file"
    exec "$bin" "${args[@]}"
fi
