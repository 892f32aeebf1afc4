#!/usr/bin/env bash
# Starts a Tessera frontend, as StarRocks's start_fe.sh does.
#   bin/start_fe.sh [--helper host:edit_log_port] [--daemon]
# --helper is needed only on the very first start of a frontend that joins an existing
# cluster (after `ALTER SYSTEM ADD FOLLOWER|OBSERVER "host:edit_log_port"` on the cluster).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    echo "usage: $0 [--helper host:edit_log_port] [--daemon]" >&2
    exit 2
}

helper=""
daemon=0
while (($#)); do
    case "$1" in
        --helper)
            [ $# -ge 2 ] || usage
            helper="$2"
            shift 2
            ;;
        --helper=*)
            helper="${1#--helper=}"
            shift
            ;;
        --daemon) daemon=1; shift ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
done

conf="$TESSERA_HOME/conf/fe.conf"
[ -f "$conf" ] || { echo "config file $conf does not exist" >&2; exit 1; }
bin=$(find_tessera_binary)
log_dir=$(conf_value "$conf" sys_log_dir)
log_dir="${log_dir:-$TESSERA_HOME/log}"
mkdir -p "$log_dir" "$PID_DIR"
pid_file="$PID_DIR/fe.pid"
if [ -f "$pid_file" ] && pid_alive "$(cat "$pid_file")"; then
    echo "Frontend running as process $(cat "$pid_file"). Stop it first." >&2
    exit 1
fi

args=(fe --conf "$conf")
[ -n "$helper" ] && args+=(--helper "$helper")

if [ "$daemon" = 1 ]; then
    # Only lines written by this start count when looking for "frontend started".
    start_line=1
    if [ -f "$log_dir/fe.log" ]; then start_line=$(($(wc -l <"$log_dir/fe.log") + 1)); fi
    nohup "$bin" "${args[@]}" >>"$log_dir/fe.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pid_file"
    # Report a start-up failure (bad config, port in use, refused join) instead of hiding it.
    query_port=$(conf_value "$conf" query_port)
    for _ in $(seq 1 100); do
        if ! pid_alive "$pid"; then
            rm -f "$pid_file"
            echo "frontend failed to start; the end of $log_dir/fe.log:" >&2
            tail -n 20 "$log_dir/fe.log" >&2
            exit 1
        fi
        if tail -n "+$start_line" "$log_dir/fe.log" 2>/dev/null | grep -q "frontend started"; then
            echo "frontend started (pid $pid, query_port ${query_port:-9030}); log: $log_dir/fe.log"
            exit 0
        fi
        sleep 0.1
    done
    echo "frontend is still starting (pid $pid); log: $log_dir/fe.log"
else
    echo "$$" >"$pid_file"
    exec "$bin" "${args[@]}"
fi
