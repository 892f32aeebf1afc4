#!/usr/bin/env bash
# Stops the frontend started by bin/start_fe.sh (SIGTERM, then waits; --force: SIGKILL after 30 s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
stop_node fe frontend "${1:-}"
