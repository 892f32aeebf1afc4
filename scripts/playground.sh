#!/usr/bin/env bash
# Builds Tessera and starts the local playground cluster (Ctrl-C stops it).
# Extra arguments go to `tessera playground` (e.g. --fresh, --followers 3 --observers 1 --backends 3).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
if ! command -v mysql >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-client >/dev/null
fi
cargo build --release -p tessera
exec "$CARGO_TARGET_DIR/release/tessera" playground "$@"
