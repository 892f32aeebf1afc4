#!/usr/bin/env bash
# The fault-injection suite's long run: N seeded runs of a cluster in network namespaces under
# a nemesis, then a table (scenario, seed, operations, faults, anomalies). Needs root.
#   scripts/chaos.sh --seeds 50 [--scenario all|mixed|<fault>] [--first-seed S] [--duration SECONDS] [--out FILE]
# See docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
if [ "$(id -u)" != 0 ]; then
    echo "the fault-injection suite needs root (network namespaces, tmpfs mounts)" >&2
    exit 1
fi
need_apt=()
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v mysql >/dev/null 2>&1 || need_apt+=(mariadb-client)
if ((${#need_apt[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
cargo build -p tessera -p tessera-testkit --bin tessera --bin tessera-chaos
exec "${CARGO_TARGET_DIR}/debug/tessera-chaos" "$@"
