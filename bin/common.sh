# Shared by bin/start_*.sh and bin/stop_*.sh: where Tessera lives and which binary to run.
TESSERA_HOME="${TESSERA_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export TESSERA_HOME
export STARROCKS_HOME="${STARROCKS_HOME:-$TESSERA_HOME}"
PID_DIR="${PID_DIR:-$TESSERA_HOME/bin}"

find_tessera_binary() {
    local c
    for c in "${TESSERA_BIN:-}" "$TESSERA_HOME/bin/tessera" \
        "${CARGO_TARGET_DIR:-}/release/tessera" "$HOME/.cache/tessera-target/release/tessera" \
        "$TESSERA_HOME/target/release/tessera" "${CARGO_TARGET_DIR:-}/debug/tessera" \
        "$HOME/.cache/tessera-target/debug/tessera" "$TESSERA_HOME/target/debug/tessera"; do
        if [ -n "$c" ] && [ -x "$c" ] && [ -f "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    if command -v tessera >/dev/null 2>&1; then
        command -v tessera
        return 0
    fi
    echo "cannot find the tessera binary: build it (cargo build --release -p tessera) or set TESSERA_BIN" >&2
    return 1
}

# The value of a key in a StarRocks-style conf file (last assignment wins), with
# ${STARROCKS_HOME} and ${TESSERA_HOME} expanded; empty when unset.
conf_value() {
    local file="$1" key="$2" v
    v=$(grep -E "^[[:space:]]*${key}[[:space:]]*=" "$file" 2>/dev/null | tail -n 1 | cut -d= -f2- | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/')
    v="${v//\$\{STARROCKS_HOME\}/$STARROCKS_HOME}"
    v="${v//\$\{TESSERA_HOME\}/$TESSERA_HOME}"
    echo "$v"
}

pid_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# Stops the node whose pid file is $PID_DIR/<name>.pid (<what> names it in messages):
# SIGTERM, wait up to 30 s; with --force, SIGKILL after that.
stop_node() {
    local name="$1" what="$2" force="${3:-}" pid_file pid
    pid_file="$PID_DIR/$name.pid"
    if [ ! -f "$pid_file" ]; then
        echo "no $pid_file: the $what is not running (or was not started by bin/start_$name.sh)" >&2
        return 1
    fi
    pid=$(cat "$pid_file")
    if ! pid_alive "$pid"; then
        echo "$what (pid $pid) is not running; removing $pid_file"
        rm -f "$pid_file"
        return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 300); do
        pid_alive "$pid" || { rm -f "$pid_file"; echo "$what (pid $pid) stopped"; return 0; }
        sleep 0.1
    done
    if [ "$force" = "--force" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$pid_file"
        echo "$what (pid $pid) killed"
        return 0
    fi
    echo "$what (pid $pid) did not stop within 30 s; run bin/stop_$name.sh --force to kill it" >&2
    return 1
}
