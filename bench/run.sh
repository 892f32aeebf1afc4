#!/usr/bin/env bash
# One command per benchmark:
#   bash bench/run.sh fe_failover [args...]   # or bench/fe_failover.sh
#   bash bench/run.sh fe_commit   [args...]   # or bench/fe_commit.sh
#   bash bench/run.sh stream_load [args...]   # or bench/stream_load.sh
#   bash bench/run.sh query       [args...]   # or bench/query.sh
#   bash bench/run.sh repair      [args...]   # or bench/repair.sh
#   bash bench/run.sh checker_scale [args...] # or bench/checker_scale.sh
# fe_failover / fe_commit: installs etcd (Debian's etcd-server) if missing, builds the release
# binaries, waits (bounded) for a quiet machine, runs the benchmark against a fresh 3-FE
# Tessera cluster (127.0.0.1-3, StarRocks's ports) and a fresh 3-member etcd cluster
# (127.0.0.1, 12379/22379/32379), prints both systems' figures and the ratios, and stops
# everything it started by PID.
# stream_load: installs PyPI duckdb and tpchgen-cli into a venv, generates (once, cached) the
# TPC-H lineitem file, builds, waits for a quiet machine, then loads the file into fresh
# 1-FE + 3-BE Tessera clusters (127.0.0.1-3) by Stream Load and into DuckDB. No etcd.
# query: like stream_load, but all eight TPC-H tables, loaded once into 3-replica tables of one
# 1-FE + 3-BE cluster and into DuckDB's tables; then the 22 TPC-H queries on both, side by side.
# repair: 1 FE + 4 BEs (127.0.0.1-4); loads a 3-replica table until the 4th BE holds ~1 GB,
# kills it, times detection and copying until every tablet is healthy, and compares the clone
# copy rate with `cp -r` + `sync` of the same files. No peer to install.
# checker_scale: 1 FE + 3 BEs; a synthetic catalog of 1,000,000 tablets x 3 replicas (the FE's
# benchmark hook): checker pass, FE memory per replica, image size/time, restart to serving.
# Extra args go to the bench binary (try `--help`), e.g. `--reps 1`.
#
# Environment:
#   TESSERA_BENCH_TARGET_DIR  cargo target dir (default: $CARGO_TARGET_DIR or ~/.cache/tessera-target)
#   TESSERA_BENCH_TESSERA_BIN use this tessera binary instead of building one (only the bench
#                             crate is built then)
#   TESSERA_BENCH_IP_BASE     node i listens on 127.0.0.(base+i-1) (default 1)
#   TESSERA_BENCH_QUIET_WAIT  seconds to wait for free ports and load < 0.5 (default 1200)
#   TESSERA_BENCH_SKIP_BUILD  1: use the binaries already built in the target dir
#   TESSERA_BENCH_RESULTS     directory for the JSON lines and the printed tables
#                             (default /tmp/tessera-bench-results)
#   TESSERA_BENCH_VENV        stream_load, query: the venv for duckdb + tpchgen-cli
#                             (default ~/.cache/tessera-bench-venv)
#   TESSERA_BENCH_DATA        stream_load, query: generated files are kept here
#                             (default ~/.cache/tessera-bench-data)
# Never run in CI: benchmarks are on demand.
set -euo pipefail

name="${1:-}"
case "$name" in
  fe_failover|fe_commit|stream_load|query|repair|checker_scale) shift ;;
  *) echo "usage: bash bench/run.sh fe_failover|fe_commit|stream_load|query|repair|checker_scale [bench args...]" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${TESSERA_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}}"
ip_base="${TESSERA_BENCH_IP_BASE:-1}"
quiet_wait="${TESSERA_BENCH_QUIET_WAIT:-1200}"
results="${TESSERA_BENCH_RESULTS:-/tmp/tessera-bench-results}"
venv="${TESSERA_BENCH_VENV:-$HOME/.cache/tessera-bench-venv}"
data="${TESSERA_BENCH_DATA:-$HOME/.cache/tessera-bench-data}"
# The peer versions of shared/research/peers.md.
duckdb_pin="duckdb==2.0.0"
tpchgen_pin="tpchgen-cli==4.0.0"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) for: $*" >&2; return 1; fi
}

# 1. The peer: etcd (Debian 12: etcd-server / etcd-client 3.4.x; the package's own service is
#    not used), or for stream_load and query DuckDB and tpchgen-cli from PyPI in a venv.
with_bes=""
n_ips=3
case "$name" in stream_load|query|checker_scale) with_bes=yes ;; repair) with_bes=yes; n_ips=4 ;; esac
if [ "$name" = checker_scale ]; then
  peer="none (goals: checker pass < 1 s, < 300 B of FE memory per replica)"
elif [ "$name" = repair ]; then
  peer="cp + sync ($(cp --version | head -1))"
elif [ -n "$with_bes" ]; then
  if ! "$venv/bin/python" -c 'import duckdb' >/dev/null 2>&1 || [ ! -x "$venv/bin/tpchgen-cli" ]; then
    echo "== installing $duckdb_pin $tpchgen_pin into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$duckdb_pin" "$tpchgen_pin"
  fi
  peer="duckdb $("$venv/bin/python" -c 'import duckdb; print(duckdb.__version__)'), $("$venv/bin/tpchgen-cli" --version)"
else
  if ! command -v etcd >/dev/null 2>&1; then
    echo "== installing etcd-server etcd-client" >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y etcd-server etcd-client >/dev/null 2>&1 || {
      as_root apt-get update -qq
      as_root apt-get install -y etcd-server etcd-client
    }
  fi
  peer="$(etcd --version | head -1)"
fi
echo "== $peer" >&2

# 2. Release build (kept out of the clone).
bin="$target/release"
tessera="${TESSERA_BENCH_TESSERA_BIN:-$bin/tessera}"
if [ "${TESSERA_BENCH_SKIP_BUILD:-}" = 1 ] && [ -x "$tessera" ] && [ -x "$bin/$name" ]; then
  echo "== using the binaries already built: $tessera, $bin/$name (TESSERA_BENCH_SKIP_BUILD=1)" >&2
elif [ -n "${TESSERA_BENCH_TESSERA_BIN:-}" ]; then
  [ -x "$tessera" ] || { echo "TESSERA_BENCH_TESSERA_BIN=$tessera is not an executable" >&2; exit 2; }
  echo "== cargo build --release -p tessera-bench (target dir $target; tessera: $tessera)" >&2
  (cd "$repo" && CARGO_TARGET_DIR="$target" cargo build --release -p tessera-bench)
else
  echo "== cargo build --release -p tessera -p tessera-bench (target dir $target)" >&2
  (cd "$repo" && CARGO_TARGET_DIR="$target" cargo build --release -p tessera -p tessera-bench)
fi
case " $* " in *" --help "*|*" -h "*) exec "$bin/$name" --help ;; esac
bench_args=()
if [ "$name" = stream_load ]; then
  bench_args=(--python "$venv/bin/python" --tpchgen "$venv/bin/tpchgen-cli"
    --duckdb-script "$repo/bench/stream_load_duckdb.py" --data-dir "$data")
fi
if [ "$name" = query ]; then
  bench_args=(--python "$venv/bin/python" --tpchgen "$venv/bin/tpchgen-cli"
    --duckdb-script "$repo/bench/query_duckdb.py" --queries-dir "$repo/bench/queries/tpch"
    --data-dir "$data")
fi
if [ -n "$with_bes" ] && [ "$name" != repair ] && [ "$name" != checker_scale ]; then
  # Generate (or find) the data files before waiting for a quiet machine.
  "$bin/$name" --tessera-bin "$tessera" --work /nonexistent "${bench_args[@]}" --prepare-only "$@"
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
  local ips="" i pat="" ip p
  for i in $(seq 0 $((n_ips - 1))); do ips="$ips 127.0.0.$((ip_base + i))"; done
  for ip in $ips; do for p in 9010 9020 9030 8030; do pat="$pat|$ip:$p\$"; done; done
  if [ -n "$with_bes" ]; then
    for ip in $ips; do for p in 9060 9050 8040 8060; do pat="$pat|$ip:$p\$"; done; done
    pat="$pat|0.0.0.0:(9010|9020|9030|8030|9060|9050|8040|8060)\$"
  else
    pat="$pat|127.0.0.1:(12379|22379|32379|12380|22380|32380)\$|0.0.0.0:(9010|9020|9030|8030)\$"
  fi
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
  ss -Hltnp | grep -E ':(9010|9020|9030|8030|9060|9050|8040|8060|12379|22379|32379)\b' >&2 || true
  if [ -z "${TESSERA_BENCH_IP_BASE:-}" ]; then
    ip_base=11
    echo "== the nodes move to 127.0.0.11-13 (set TESSERA_BENCH_IP_BASE to choose)" >&2
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
  echo "# $name, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r), $peer"
  echo "# tessera binary: $tessera (modified $(date -u -r "$tessera" '+%Y-%m-%d %H:%M UTC')); repo HEAD: $(cd "$repo" && git log -1 --format='%h %s' 2>/dev/null || echo '-')"
  echo "# load average at start: $(cat /proc/loadavg)${under_load:+ (UNDER LOAD)}"
} | tee "$out.md"
"$bin/$name" --tessera-bin "$tessera" --work "$work" --ip-base "$ip_base" \
  --json-out "$out.jsonl" "${bench_args[@]}" "$@" | tee -a "$out.md"
echo "== results: $out.md, $out.jsonl" >&2
