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
