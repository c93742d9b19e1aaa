#!/usr/bin/env bash
# Builds and runs every cargo-fuzz target for SECONDS each (default 30).
#
# Usage: fuzz/run.sh [SECONDS]
#
# Each target starts from its checked-in seeds (fuzz/seeds/<target>/), copied into the working
# corpus fuzz/corpus/<target>/ (gitignored; it grows from run to run). A crash leaves its input in
# fuzz/artifacts/<target>/ and makes this script exit non-zero after the other targets ran.
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags that
# cargo fuzz passes. FUZZ_SANITIZER picks the sanitizer (address by default, when the toolchain
# has its runtime; `none` is faster).
set -euo pipefail

SECONDS_PER_TARGET=${1:-30}
SANITIZER=${FUZZ_SANITIZER:-address}
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

# AddressSanitizer needs the toolchain's ASan runtime (rustup's toolchains ship it; Debian's
# rustc-web does not): without it the targets still run, and still catch every panic, with no
# sanitizer.
if [ "$SANITIZER" = address ] &&
    ! ls "$(rustc --print target-libdir)"/librustc-*_rt.asan.a >/dev/null 2>&1; then
    echo "fuzz: this toolchain ($(rustc --version)) has no AddressSanitizer runtime; fuzzing without a sanitizer" >&2
    SANITIZER=none
fi

TARGETS=(record rpc_header auth dump dict cli lvm_frame brick_spec create_request mgmt_v3 admin journal handshake peer peer_export volume_options store_peer)

cargo fuzz build --sanitizer "$SANITIZER"

failed=()
summary=()
for target in "${TARGETS[@]}"; do
    mkdir -p "corpus/$target"
    cp -n "seeds/$target"/* "corpus/$target/" 2>/dev/null || true
    log="corpus/$target.log"
    echo "== $target: ${SECONDS_PER_TARGET}s"
    if cargo fuzz run --sanitizer "$SANITIZER" "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=CRASH
        failed+=("$target")
        grep -E "panicked|ERROR: |SUMMARY|Test unit written" "$log" || tail -30 "$log"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    summary+=("$(printf '%-11s %-6s %12s runs %9s exec/s' "$target" "$status" "${runs:-?}" "${rate:-?}")")
done

echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz targets that crashed: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
