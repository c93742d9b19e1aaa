#!/usr/bin/env bash
# create.sh — the create-volume workload against brickd and a private glusterd, same machine.
#
# Makes one XFS file system on a loop device (brick directories are made under it), starts a
# private glusterd (own volfile, workdir, run directory, unix socket, TCP port; a system
# glusterd is never touched) and brickd on a temporary workdir, and runs perf's
# `create-volumes` against each over its unix socket:
#   0. warm-up: W (10) create + delete on each daemon, not reported;
#   1. latency: ROUNDS rounds, alternating which daemon goes first, each round COUNT × (create
#      then delete) of a one-brick distribute volume; prints p50/p90/p99 per round and daemon,
#      and the round's floor: `sync-floor`, 2 × COUNT appends with fdatasync in the workdirs'
#      file system (what one durable write costs in the same conditions); then every round's
#      creates pooled per daemon (OUT/round<R>-<daemon>.csv) and the ratios;
#   2. with --many N: N creates kept (no delete) on each daemon, per-create times written to
#      OUT/{brickd,glusterd}-creates.csv, and the median of creates 1–20 against the median of
#      the last 20.
# With --busy B, B busy loops hold the CPUs from the warm-up to the end (the load a shared
# node's other work makes: every daemon's thread that wakes has to wait for a CPU).
# --brickd-args passes extra flags to `brickd serve` (e.g. "--sched-slice-us 0").
# --workdirs-in DIR makes both daemons' workdirs under DIR (a new directory in it, removed at
# the end) instead of under /tmp with the rest (see perf/RESULTS.md: on a root file system
# without a journal, /tmp's churn slows every file creation there).
# Everything is torn down on exit (daemons, busy loops, mount, loop device).
#
# Usage: perf/create.sh [--rounds R] [--count N] [--many M] [--warmup W] [--busy B]
#                       [--brickd-args "FLAGS"] [--workdirs-in DIR] [--out DIR]
#                       [--glusterd-port P] [--brickd-port P]
# Needs root, xfsprogs, glusterfs-server/-cli; builds brickd, create-volumes and sync-floor in
# release.
set -euo pipefail

ROUNDS=3
COUNT=100
MANY=0
WARMUP=10
BUSY=0
BRICKD_ARGS=""
WORKDIRS_IN=""
OUT=""
GD_PORT=24460
BD_PORT=24461

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --count) COUNT=$2; shift 2 ;;
        --many) MANY=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --busy) BUSY=$2; shift 2 ;;
        --brickd-args) BRICKD_ARGS=$2; shift 2 ;;
        --workdirs-in) WORKDIRS_IN=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --glusterd-port) GD_PORT=$2; shift 2 ;;
        --brickd-port) BD_PORT=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument $1" >&2; usage 2 ;;
    esac
done

cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "create.sh needs root (loop devices, mount, trusted xattrs)" >&2; exit 1; }
OUT=${OUT:-target/perf/create-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
cargo build --release --locked -p brickd -p brickd-perf --bin brickd --bin create-volumes \
    --bin sync-floor >&2

TMP=$(mktemp -d /tmp/brickd-create-XXXXXX)
# Where the workdirs live: $STATE/gd/lib and $STATE/bd/workdir.
STATE=$TMP
if [ -n "$WORKDIRS_IN" ]; then
    mkdir -p "$WORKDIRS_IN"
    STATE=$(mktemp -d "$(realpath "$WORKDIRS_IN")/brickd-create-XXXXXX")
fi
LOOP=""
GD_PID=""
BD_PID=""
BUSY_PIDS=""
cleanup() {
    for p in $BUSY_PIDS; do kill "$p" 2>/dev/null || true; done
    # And any busy loop whose pid was not recorded (this shell's children only).
    [ "$BUSY" -gt 0 ] && pkill -P $$ -x yes 2>/dev/null || true
    [ -n "$BD_PID" ] && kill "$BD_PID" 2>/dev/null || true
    [ -n "$GD_PID" ] && kill "$GD_PID" 2>/dev/null || true
    sleep 0.5
    umount "$TMP/xfs" 2>/dev/null || true
    [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null || true
    rm -rf "$TMP"
    if [ "$STATE" != "$TMP" ]; then rm -rf "$STATE"; fi
}
trap cleanup EXIT

truncate -s 2G "$TMP/image"
LOOP=$(losetup -f --show "$TMP/image")
mkfs.xfs -q -f "$LOOP"
mkdir -p "$TMP/xfs"
mount "$LOOP" "$TMP/xfs"
mkdir -p "$TMP/xfs/g" "$TMP/xfs/b"
HOST=$(hostname)

mkdir -p "$STATE/gd/lib" "$TMP/gd/run"
cat > "$TMP/gd/glusterd.vol" <<EOF
volume management
    type mgmt/glusterd
    option working-directory $STATE/gd/lib
    option run-directory $TMP/gd/run
    option glusterd-sockfile $TMP/gd/run/glusterd.socket
    option transport-type socket
    option transport.socket.listen-port $GD_PORT
    option ping-timeout 0
    option event-threads 1
end-volume
EOF
glusterd -N -f "$TMP/gd/glusterd.vol" -p "$TMP/gd/run/glusterd.pid" -l "$TMP/gd/glusterd.log" &
GD_PID=$!
target/release/brickd serve --workdir "$STATE/bd/workdir" --socket "$TMP/bd/brickd.socket" \
    --listen "127.0.0.1:$BD_PORT" $BRICKD_ARGS > "$TMP/bd.log" 2>&1 &
BD_PID=$!
for _ in $(seq 100); do
    [ -S "$TMP/gd/run/glusterd.socket" ] && [ -S "$TMP/bd/brickd.socket" ] && break
    sleep 0.1
done
sleep 1

run() { # daemon prefix args…
    local daemon=$1 prefix=$2; shift 2
    local socket dir
    if [ "$daemon" = glusterd ]; then socket=$TMP/gd/run/glusterd.socket; dir=$TMP/xfs/g
    else socket=$TMP/bd/brickd.socket; dir=$TMP/xfs/b; fi
    target/release/create-volumes --socket "$socket" --host "$HOST" --brick-dir "$dir" \
        --prefix "$prefix" "$@"
}

# Started here, in this shell, so that the exit trap stops them whatever happens (the block
# below runs in a subshell of its own).
for _ in $(seq "$BUSY"); do
    (exec yes > /dev/null) &
    BUSY_PIDS="$BUSY_PIDS $!"
done
{
    echo "# create.sh $(date -u +%FT%TZ): rounds=$ROUNDS count=$COUNT many=$MANY warmup=$WARMUP busy=$BUSY workdirs=$STATE"
    echo "# brickd $(git rev-parse --short HEAD)$(git diff --quiet || echo -dirty) $BRICKD_ARGS, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
    # Warm-up, not reported: both daemons' first creates pay one-time costs (first journal
    # file, caches, glusterd's first transaction), which would otherwise land in round 1.
    for d in glusterd brickd; do
        run "$d" "w" --count "$WARMUP" --delete > /dev/null
    done
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then order="glusterd brickd"; else order="brickd glusterd"; fi
        for d in $order; do
            echo "round $r $d"
            run "$d" "r${r}" --count "$COUNT" --delete --per-create "$OUT/round$r-$d.csv"
        done
        # The floor in the same conditions: one append and fdatasync in the workdirs' file
        # system, as often as the round's creates and deletes flush.
        echo "round $r sync-floor"
        target/release/sync-floor --dir "$STATE" --count $((2 * COUNT))
    done
    # Every round's creates pooled: a p99 of ROUNDS × COUNT creates, which one pause of the
    # machine moves less than it moves a round's p99 (the second-worst of 100).
    python3 - "$OUT" "$ROUNDS" <<'PY'
import sys
out, rounds = sys.argv[1], int(sys.argv[2])
def pct(v, q):
    return v[min(len(v) - 1, int(q * len(v)))]
stats = {}
for d in ("glusterd", "brickd"):
    us = sorted(int(l.split(",")[1]) for r in range(1, rounds + 1)
                for l in open(f"{out}/round{r}-{d}.csv"))
    stats[d] = [pct(us, q) for q in (0.50, 0.90, 0.99)]
    p50, p90, p99 = stats[d]
    print(f"all rounds {d}: create n={len(us)} p50_us={p50} p90_us={p90} p99_us={p99}")
b, g = stats["brickd"], stats["glusterd"]
print(f"all rounds ratio brickd/glusterd: p50 {b[0]/g[0]:.2f} p90 {b[1]/g[1]:.2f} p99 {b[2]/g[2]:.2f}")
PY
    if [ "$MANY" -gt 0 ]; then
        for d in brickd glusterd; do
            echo "many $d"
            run "$d" "m" --count "$MANY" --per-create "$OUT/$d-creates.csv"
            python3 - "$OUT/$d-creates.csv" <<'PY'
import statistics, sys
us = [int(l.split(",")[1]) for l in open(sys.argv[1])]
first, last = statistics.median(us[:20]), statistics.median(us[-20:])
print(f"per-create median: creates 1-20 {first/1000:.2f} ms, last 20 {last/1000:.2f} ms, ratio {last/first:.2f}")
PY
        done
    fi
    echo "# load at end $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/summary.txt"
