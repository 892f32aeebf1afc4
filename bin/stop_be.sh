#!/usr/bin/env bash
# Stops the backend started by bin/start_be.sh (SIGTERM, then waits; --force: SIGKILL after 30 s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
stop_node be backend "${1:-}"
