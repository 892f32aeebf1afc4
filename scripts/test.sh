#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, unit tests and the multi-process cluster tests.
# Installs what the tests need (Debian packages) when it runs as root and they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build output lives outside the clone so reruns (and fresh clones) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

need_apt=()
command -v mysql >/dev/null 2>&1 || need_apt+=(mariadb-client)
command -v ss >/dev/null 2>&1 || need_apt+=(iproute2)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# The fault-injection scenarios cut links between network namespaces with nftables.
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
# The client matrix (crates/testkit/tests/cluster/clients.rs): MariaDB Connector/J and a JDK.
[ -f /usr/share/java/mariadb-java-client.jar ] || need_apt+=(libmariadb-java)
command -v javac >/dev/null 2>&1 || need_apt+=(default-jdk-headless)
command -v script >/dev/null 2>&1 || need_apt+=(bsdutils)
if ! command -v python3 >/dev/null 2>&1; then
    need_apt+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need_apt+=(python3-venv)
fi
# The web console test drives Debian's chromium (headless) with playwright-core from npm.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if ((${#need_apt[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "== installing ${need_apt[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${need_apt[@]}" >/dev/null
    else
        echo "missing: ${need_apt[*]} (install them: sudo apt-get install ${need_apt[*]})" >&2
        exit 1
    fi
fi

# The Python clients of the client matrix, pinned in crates/testkit/clients/requirements.txt,
# in a venv outside the clone; reinstalled only when the requirements file changes.
venv="${TESSERA_CLIENTS_VENV:-$HOME/.cache/tessera-clients-venv}"
requirements=crates/testkit/clients/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing the Python clients into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
fi
export TESSERA_CLIENTS_VENV="$venv"
console=crates/testkit/console
if [ ! -f "$console/node_modules/playwright-core/package.json" ] ||
    [ "$console/package-lock.json" -nt "$console/node_modules/.package-lock.json" ]; then
    echo "== npm ci (playwright-core for the web console test)"
    npm ci --prefix "$console" --no-audit --no-fund
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== build the tessera binary (the cluster tests run it)"
cargo build -p tessera

echo "== tests"
# The cluster tests share 127.0.0.x addresses and ports; the harness serializes them itself.
cargo test 2>&1 | tee "${CARGO_TARGET_DIR}/last-test.log"
status=${PIPESTATUS[0]}
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "${CARGO_TARGET_DIR}/last-test.log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "${CARGO_TARGET_DIR}/last-test.log" | awk '{s+=$1} END {print s+0}')
echo "${passed} passed, ${failed} failed"

# ---- fuzzing (short) ----------------------------------------------------------------------
# Every fuzz target for 10 s, after the crash inputs of fuzz/regressions: docs/fuzzing.md.
# A long run is scripts/fuzz.sh --time 600.
echo "== fuzz (short)"
fuzz_status=0
# Built at opt-level 1 here: about 380 s instead of 540 s from clean on 2 cores, for fewer runs
# in the 10 s (a smoke test); a long run (scripts/fuzz.sh alone) keeps opt-level 3.
CARGO_PROFILE_RELEASE_OPT_LEVEL=1 ./scripts/fuzz.sh --time 10 || fuzz_status=$?
# ---- end of fuzzing ------------------------------------------------------------------------

if ((status == 0)); then
    status=$fuzz_status
fi
exit "$status"
