#!/usr/bin/env bash
# One command per benchmark:
#   bash bench/run.sh fe_failover [args...]   # or bench/fe_failover.sh
#   bash bench/run.sh fe_commit   [args...]   # or bench/fe_commit.sh
# Installs etcd (Debian's etcd-server) if missing, builds the release binaries, waits
# (bounded) for a quiet machine, runs the benchmark against a fresh 3-FE Tessera cluster
# (127.0.0.1-3, StarRocks's ports) and a fresh 3-member etcd cluster (127.0.0.1,
# 12379/22379/32379), prints both systems' figures and the ratios, and stops everything it
# started by PID. Extra args go to the bench binary (try `--help`), e.g. `--reps 1`.
#
# Environment:
#   TESSERA_BENCH_TARGET_DIR  cargo target dir (default: $CARGO_TARGET_DIR or ~/.cache/tessera-target)
#   TESSERA_BENCH_IP_BASE     FE i listens on 127.0.0.(base+i-1) (default 1)
#   TESSERA_BENCH_QUIET_WAIT  seconds to wait for free ports and load < 0.5 (default 1200)
#   TESSERA_BENCH_SKIP_BUILD  1: use the binaries already built in the target dir
#   TESSERA_BENCH_RESULTS     directory for the JSON lines and the printed tables
#                             (default /tmp/tessera-bench-results)
# Never run in CI: benchmarks are on demand.
set -euo pipefail

name="${1:-}"
case "$name" in
  fe_failover|fe_commit) shift ;;
  *) echo "usage: bash bench/run.sh fe_failover|fe_commit [bench args...]" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${TESSERA_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}}"
ip_base="${TESSERA_BENCH_IP_BASE:-1}"
quiet_wait="${TESSERA_BENCH_QUIET_WAIT:-1200}"
results="${TESSERA_BENCH_RESULTS:-/tmp/tessera-bench-results}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) for: $*" >&2; return 1; fi
}

# 1. etcd (Debian 12: etcd-server / etcd-client 3.4.x). The package's own service is not used.
if ! command -v etcd >/dev/null 2>&1; then
  echo "== installing etcd-server etcd-client" >&2
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y etcd-server etcd-client >/dev/null 2>&1 || {
    as_root apt-get update -qq
    as_root apt-get install -y etcd-server etcd-client
  }
fi
echo "== $(etcd --version | head -1)" >&2

# 2. Release build (kept out of the clone).
bin="$target/release"
if [ "${TESSERA_BENCH_SKIP_BUILD:-}" = 1 ] && [ -x "$bin/tessera" ] && [ -x "$bin/$name" ]; then
  echo "== using the binaries already built in $bin (TESSERA_BENCH_SKIP_BUILD=1)" >&2
else
  echo "== cargo build --release -p tessera -p tessera-bench (target dir $target)" >&2
  (cd "$repo" && CARGO_TARGET_DIR="$target" cargo build --release -p tessera -p tessera-bench)
fi

# 3. Scratch dir; on exit stop everything we started (by PID) and remove it.
work="$(mktemp -d /tmp/tessera-bench.XXXXXX)"
cleanup() {
  if [ -f "$work/pids" ]; then
    while read -r pid; do
      [ -n "$pid" ] || continue
      # Only our own servers: guard against a PID reused by someone else.
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -e "$work" -e "tessera-bench-"; then
        kill -9 "$pid" 2>/dev/null || true
      fi
    done <"$work/pids"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 4. Wait (bounded) until nothing listens on the ports we need and the machine is quiet.
ports_busy() {
  local ips="" i
  for i in 0 1 2; do ips="$ips 127.0.0.$((ip_base + i))"; done
  local pat=""
  for ip in $ips; do for p in 9010 9020 9030 8030; do pat="$pat|$ip:$p\$"; done; done
  pat="$pat|127.0.0.1:(12379|22379|32379|12380|22380|32380)\$|0.0.0.0:(9010|9020|9030|8030)\$"
  ss -Hltn 2>/dev/null | awk '{print $4}' | grep -Eq "${pat#|}"
}
load1() { cut -d' ' -f1 /proc/loadavg; }
quiet() { ! ports_busy && awk -v l="$(load1)" 'BEGIN{exit !(l < 0.5)}'; }
waited=0
while ! quiet && [ "$waited" -lt "$quiet_wait" ]; do
  [ "$waited" = 0 ] && echo "== waiting up to ${quiet_wait}s for free ports and load < 0.5 (load $(load1))" >&2
  sleep 10; waited=$((waited + 10))
done
under_load=""
if ports_busy; then
  echo "== WARNING: ports are still in use after ${waited}s:" >&2
  ss -Hltnp | grep -E ':(9010|9020|9030|8030|12379|22379|32379)\b' >&2 || true
  if [ -z "${TESSERA_BENCH_IP_BASE:-}" ]; then
    ip_base=11
    echo "== the FEs move to 127.0.0.11-13 (set TESSERA_BENCH_IP_BASE to choose)" >&2
  fi
fi
if ! awk -v l="$(load1)" 'BEGIN{exit !(l < 0.5)}'; then
  under_load="yes"
  echo "== WARNING: load average $(load1) >= 0.5 after ${waited}s: figures are taken UNDER LOAD" >&2
fi

# 5. Run.
mkdir -p "$results"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$results/$name-$stamp"
{
  echo "# $name, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r), $(etcd --version | head -1)"
  echo "# load average at start: $(cat /proc/loadavg)${under_load:+ (UNDER LOAD)}"
} | tee "$out.md"
"$bin/$name" --tessera-bin "$bin/tessera" --work "$work" --ip-base "$ip_base" \
  --json-out "$out.jsonl" "$@" | tee -a "$out.md"
echo "== results: $out.md, $out.jsonl" >&2
