#!/usr/bin/env bash
# compat.sh — glusterfs's own regression tests (../shared/gftests: 42 management-plane tests of
# glusterfs v10.3, unchanged) against the real glusterd 10.3 and against a freshly built
# brickd, in the suite's sandbox; writes docs/compat.md.
#
#   scripts/compat.sh [--letters SET] [--timeout SECONDS] [--out DIR] [TEST...]
#
# --letters   only tests whose letters are all within SET (default COSMPB: everything this
#             machine can run; X tests need device-mapper, geo-replication or gNFS)
# --timeout   per-test limit in seconds (default 300)
# --out       results directory (default target/compat): OUT/glusterd, OUT/brickd, OUT/results.md
#
# docs/compat.md is the suite's summary (per test: glusterd's and brickd's passing subtests, the
# first subtest glusterd passes and brickd fails, with its reason) followed by
# docs/compat-notes.md (brickd's deliberate differences and what the B and X tests need), and
# the command and brickd commit it was made with. Not part of scripts/test.sh: it needs the
# glusterfs test tree beside the repository (../shared/gftests) and takes a while.
set -euo pipefail
cd "$(dirname "$0")/.."

gftests=${GFTESTS:-../shared/gftests}
letters=COSMPB
timeout_s=300
out=target/compat
tests=()
while [ $# -gt 0 ]; do
    case $1 in
    --letters) letters=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) tests+=("$1"); shift ;;
    esac
done
[ -x "$gftests/run.sh" ] || { echo "compat.sh: no test suite at $gftests (set GFTESTS)" >&2; exit 2; }

. scripts/lib.sh
ensure_packages glusterfs-server glusterfs-client perl xfsprogs attr gdb jq net-tools \
    libxml2-utils uuid-runtime libglusterfs-dev bc
ensure_rust

cargo build --release --locked --bin brickd
rm -rf "$out"
mkdir -p "$out"
started=$(date -u '+%Y-%m-%d %H:%M')
"$gftests/run.sh" --mode glusterd --out "$out" --letters "$letters" --timeout "$timeout_s" \
    ${tests[@]+"${tests[@]}"}
BRICKD=target/release/brickd "$gftests/run.sh" --mode brickd --out "$out" --letters "$letters" \
    --timeout "$timeout_s" ${tests[@]+"${tests[@]}"}
"$gftests/summarize.py" --out "$out" --results "$out/results.md"

{
    echo "# glusterfs's regression tests: glusterd 10.3 and brickd"
    echo
    echo "Made by \`scripts/compat.sh --letters $letters --timeout $timeout_s${tests[*]:+ ${tests[*]}}\`"
    echo "($started UTC, brickd $(git rev-parse --short HEAD)); rewrite it with the same command"
    echo "after any change that moves it. The suite and its sandbox: ../shared/gftests/README.md."
    echo
    sed -e '1{/^# /d}' "$out/results.md"
    echo
    cat docs/compat-notes.md
} >docs/compat.md
echo "compat.sh: wrote docs/compat.md"
