#!/usr/bin/env bash
# Runs brickd's whole test suite on a fresh Debian 12 machine, as root. Installs what it needs
# (idempotently): the real gluster CLI and glusterd the tests drive, the file-system and LVM
# tools, clang for bindgen, cargo-fuzz.
#
#   scripts/test.sh                 everything: format, lint, unit + integration tests,
#                                   bench and fuzz builds, a short run of every fuzz target
#   FUZZ_SECONDS=N scripts/test.sh  seconds per fuzz target (default 15; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages ca-certificates gcc g++ libc6-dev make pkg-config python3 procps iproute2 \
    glusterfs-server glusterfs-cli xfsprogs lvm2 liblvm2-dev clang libclang-dev tcpdump
ensure_rust

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit and integration tests"
cargo test --workspace --locked

step "crash tests (failpoints feature)"
cargo test --locked --features failpoints --test volume_crash

step "benchmarks build"
cargo bench --workspace --locked --no-run

fuzz_seconds=${FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" -gt 0 ]; then
    if ! command -v cargo-fuzz >/dev/null 2>&1; then
        step "installing cargo-fuzz"
        cargo install cargo-fuzz --locked
    fi
    step "fuzz targets, ${fuzz_seconds}s each"
    fuzz/run.sh "$fuzz_seconds"
else
    echo "fuzzing skipped: FUZZ_SECONDS=0"
fi

step "all checks passed"
