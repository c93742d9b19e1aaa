#!/usr/bin/env bash
# Runs brickd's whole test suite on a fresh Debian 12 machine, as root. Installs what it needs
# (idempotently): the real gluster CLI and glusterd the tests drive, the XFS and LVM tools, a
# C/C++ compiler (liburing for glommio, libFuzzer), a Rust toolchain new enough for the
# lockfile, cargo-fuzz.
#
#   scripts/test.sh                 everything: format, lint, unit + integration tests,
#                                   bench and fuzz builds, a short run of every fuzz target
#   FUZZ_SECONDS=N scripts/test.sh  seconds per fuzz target (default 15; 0 skips fuzzing)
#
# It ends with how many tests ran, passed, failed and skipped, and why each skip happened.
# A test that cannot run here says so through tests/common/skip.rs; under CI=true a skip of
# anything CI provides (root, a package, a tool, a second CPU) fails that test, and so the run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages ca-certificates gcc g++ libc6-dev git procps iproute2 liblvm2cmd2.03 \
    glusterfs-server glusterfs-cli glusterfs-common glusterfs-client xfsprogs lvm2
ensure_rust clippy rustfmt
# The pool tests run glusterd and brickd nodes on port 24007 of their own loopback addresses; a
# system glusterd the package started on 0.0.0.0:24007 would take the port from all of them.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet glusterd 2>/dev/null; then
    echo "stopping the system glusterd (it holds 0.0.0.0:24007, which the pool tests need)"
    systemctl stop glusterd
fi

step() { printf '\n==> %s\n' "$*"; }

# The disk may be shared and nearly full: the build is kept small (no incremental caches, line
# tables only for debug info; about half the size), and the free space is shown first so that a
# later "No space left on device" can be told from a fault of brickd's.
export CARGO_INCREMENTAL=0
export CARGO_PROFILE_DEV_DEBUG=line-tables-only
step "free space"
df -h . "${TMPDIR:-/tmp}" 2>/dev/null || true

mkdir -p target
ledger=$PWD/target/test-skips.tsv
log=$PWD/target/test-output.log
: >"$ledger"
: >"$log"
export BRICKD_SKIP_LEDGER=$ledger

# Prints the counts of every test binary's "test result:" line so far, and the skips, and a
# closing line "tests: N passed, N failed, N skipped". Passed counts the tests that ran to the
# end without skipping any part; a test that skipped all or part of itself counts as skipped.
summarize() {
    local passed=0 failed=0 ignored=0 binaries=0 skipped
    while read -r p f i; do
        passed=$((passed + p))
        failed=$((failed + f))
        ignored=$((ignored + i))
        binaries=$((binaries + 1))
    done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$log")
    skipped=$(cut -f1 "$ledger" | sort -u | grep -c . || true)
    echo
    echo "==> test count"
    echo "test binaries run: $binaries; tests run: $((passed + failed)); not run (#[ignore]): $ignored"
    if [ "$skipped" -gt 0 ]; then
        echo "skipped, all or in part ($skipped):"
        sort -u "$ledger" | awk -F'\t' '{printf "  %-60s %-12s %s\n", $1, $2, $3}'
    fi
    echo "tests: $((passed - skipped)) passed, $failed failed, $skipped skipped"
}

# Runs a cargo test command, keeping its output for the count.
cargo_test() {
    local status=0
    cargo test "$@" 2>&1 | tee -a "$log" || status=$?
    if [ "$status" -ne 0 ]; then
        summarize
        echo "cargo test $* failed (exit $status)" >&2
        exit "$status"
    fi
}

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit and integration tests"
cargo_test --workspace --locked

step "crash tests (failpoints feature)"
cargo_test --locked --features failpoints --test volume_crash --test volume_start_crash --test pool_faults --test volume_options --test uuid_reset

step "benchmarks build"
cargo bench --workspace --locked --no-run

fuzz_seconds=${FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" -gt 0 ]; then
    # cargo finds its subcommands in ~/.cargo/bin too, also where that is not on PATH.
    if ! cargo fuzz --version >/dev/null 2>&1; then
        step "installing cargo-fuzz"
        cargo install cargo-fuzz --locked
    fi
    step "fuzz targets, ${fuzz_seconds}s each"
    fuzz/run.sh "$fuzz_seconds"
else
    echo "fuzzing skipped: FUZZ_SECONDS=0"
fi

summarize
if [ "${CI:-}" = true ] && [ -s "$ledger" ] && cut -f2 "$ledger" | grep -qx missing; then
    echo "a test skipped for want of something CI provides (see above)" >&2
    exit 1
fi
step "all checks passed"
