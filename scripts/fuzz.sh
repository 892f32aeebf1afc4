#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (cargo fuzz, libFuzzer) for a bounded time each: docs/fuzzing.md.
#
#   scripts/fuzz.sh [--time SECONDS] [--sanitizer none|address] [--list] [TARGET...]
#
# --time: seconds per target (default 10, what CI runs; e.g. --time 600 for a long run).
# --sanitizer: none (default: Tessera has no unsafe code, so the checks that matter are the
#   panics, overflow checks and debug assertions, and ASan would halve the runs per second) or
#   address (for a long run that also looks at the unsafe code of the dependencies).
# No TARGET: all of them. Exits non-zero when a target crashed (panic, overflow, timeout or
# out-of-memory) and prints where the crashing input is; it then belongs in fuzz/regressions/.
#
# The toolchain is the pinned stable one (rust-toolchain.toml): libFuzzer's flags are nightly
# flags, allowed on stable by RUSTC_BOOTSTRAP=1 for this build only.
set -euo pipefail
cd "$(dirname "$0")/.."

time_per_target=10
sanitizer=none
targets=()
while (($#)); do
    case "$1" in
    --time) time_per_target="$2"; shift 2 ;;
    --sanitizer) sanitizer="$2"; shift 2 ;;
    --list) ls fuzz/fuzz_targets | sed 's/\.rs$//'; exit 0 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
    esac
done
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
fi

CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

export RUSTC_BOOTSTRAP=1
# Build output next to the main build's, in a directory of its own (other compiler flags).
target_base="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
target_dir="$target_base/fuzz"
# The corpus each target grows; the committed seeds (fuzz/corpus) are only read.
work_corpus="$target_base/fuzz-corpus"
# Release code with debug assertions and overflow checks: an overflow on input is a bug too.
flags=(--release --debug-assertions --sanitizer "$sanitizer" --target-dir "$target_dir")

start=$(date +%s)
echo "== cargo fuzz build (${#targets[@]} targets, sanitizer $sanitizer)"
cargo fuzz build "${flags[@]}"
echo "   built in $(($(date +%s) - start)) s"

failed=()
for t in "${targets[@]}"; do
    if [ ! -f "fuzz/fuzz_targets/$t.rs" ]; then
        echo "no fuzz target $t (scripts/fuzz.sh --list)" >&2
        exit 2
    fi
    mkdir -p "$work_corpus/$t" "fuzz/artifacts/$t"
    before=$(ls "fuzz/artifacts/$t" | wc -l)
    status=0
    : >"$target_base/fuzz-$t.log"
    # Every input that once crashed must still pass.
    if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
        # A wall-clock guard too: libFuzzer's timeout handler can deadlock (malloc in a signal
        # handler), leaving an empty artifact and a process that never ends.
        timeout --signal=KILL 600 cargo fuzz run "${flags[@]}" "$t" "fuzz/regressions/$t" -- \
            -runs=0 -timeout=10 -artifact_prefix="fuzz/artifacts/$t/" >>"$target_base/fuzz-$t.log" 2>&1 || status=$?
    fi
    if ((status == 0)); then
        timeout --signal=KILL $((time_per_target + 600)) \
            cargo fuzz run "${flags[@]}" "$t" "$work_corpus/$t" "fuzz/corpus/$t" -- \
            -max_total_time="$time_per_target" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
            -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
            >>"$target_base/fuzz-$t.log" 2>&1 || status=$?
    fi
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$target_base/fuzz-$t.log" | awk '{s+=$2} END {print s+0}')
    if ((status != 0)); then
        echo "== $t: CRASHED (exit $status); log: $target_base/fuzz-$t.log"
        grep -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$target_base/fuzz-$t.log" | head -5 | sed 's/^/   /'
        if (($(ls "fuzz/artifacts/$t" | wc -l) > before)); then
            ls -t "fuzz/artifacts/$t" | head -n 1 | sed "s|^|   crashing input: fuzz/artifacts/$t/|"
        fi
        echo "   reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run ${flags[*]} $t <crashing input>"
        failed+=("$t")
    else
        echo "== $t: ok, $runs runs in ${time_per_target} s"
    fi
done
echo "== fuzzing took $(($(date +%s) - start)) s"
if ((${#failed[@]})); then
    echo "crashed: ${failed[*]} (docs/fuzzing.md: a crash becomes a regression test)" >&2
    exit 1
fi
