#!/usr/bin/env bash
# volumes.sh — issue 17's benchmarks: volumes with real glusterfsd bricks, brickd against a
# private glusterd in the same run.
#
# Makes one XFS file system on a loop device per daemon (brick directories under it), starts a
# private glusterd bound to --glusterd-addr (port 24007: glusterd's bricks always fetch their
# volfile from port 24007 of their host; its own workdir, run directory and unix socket, with
# Debian's /etc/glusterfs/glusterd.vol for the rest) and brickd on --brickd-addr:--brickd-port
# (its own workdir, run and log directories), and runs, interleaved (each round starts with the
# other daemon):
#
#   storm      a volume of --storm-bricks bricks (default 6), started; then `mount-storm`
#              (perf/src/bin/mount-storm.rs): --clients (64) clients each doing what a FUSE
#              mount asks the management daemon (GETSPEC of /VOL, then per brick a new TCP
#              connection with DUMP + PING + PORTBYBRICK), over and over, for --duration s.
#              Requests/s (every RPC) and mounts/s, p99 of the requests and of whole mounts.
#              The same storm against perf's echo-server on --echo-addr:24520 (`mount-storm
#              --floor`: a server that does no work) gives the floor the connections cost
#              on this machine. Then brickd-load's getspec:/storm and port-by-brick:BRICK0 at
#              16x1 on kept connections: the two calls that do work, without the churn.
#              Before any later phase starts bricks, the TIME_WAIT sockets of the storm are
#              waited out (brickd's bricks bind 0.0.0.0:PORT; see perf/RESULTS.md).
#   startstop  a 1-brick and a 12-brick volume (--sizes), --cycles rounds of `volume start` then
#              `volume stop` through the real CLI (`vol-cycle`, perf/src/bin/vol-cycle.rs):
#              start = until every brick shows online in the daemon's status (glusterd answers
#              the CLI before its bricks signed in; brickd after), stop = until every brick
#              process is gone. Median and p90 wall time.
#   status     --status-volumes (100) started 1-brick volumes on each daemon (one glusterfsd
#              each), then brickd-load `vol-status` (what `gluster volume status NAME` sends)
#              at --status-conns (16) connections x 1, spread over all the volumes
#              (vol-status:sv{000..099}) and on one volume (vol-status:sv000), over the CLI's
#              unix socket (--transport tcp for TCP). Requests/s, p50, p99.
#
# Before the status phase the free memory is checked against the brick processes' size; the
# volume count is lowered (and the summary says so) when both daemons' bricks would not fit.
# Everything is torn down on exit, whatever happens: both daemons, every brick process they
# started (by the pid files under this run's directories) and their unix sockets in
# /var/run/gluster, mounts, loop devices, the brick logs glusterd wrote to
# /var/log/glusterfs/bricks for this run's paths and the empty /var/log/glusterfs/gfproxy/VOL
# directories it made (glusterd's lines in /var/log/glusterfs/cmd_history.log stay).
#
# Usage: perf/volumes.sh [--phases storm,startstop,status] [--rounds 3] [--duration 10]
#                        [--warmup 1] [--clients 64] [--storm-threads 1] [--storm-bricks 6]
#                        [--source-addrs 0]
#                        [--cycles 10] [--sizes "1 12"] [--status-volumes 100]
#                        [--status-conns 16] [--transport unix|tcp]
#                        [--glusterd-addr 127.1.9.1] [--brickd-addr 127.1.9.2]
#                        [--brickd-port 24517] [--echo-addr 127.1.9.3] [--brickd-args "FLAGS"]
#                        [--out DIR] [--keep]
# Needs root, xfsprogs, glusterfs-server; builds brickd and perf's tools in release.
# Output: tables on stdout, DIR/summary.md (markdown for perf/RESULTS.md), every run's JSON in
# DIR (default target/perf/volumes-DATE).
set -euo pipefail
export LC_ALL=C

PHASES="storm,startstop,status"
ROUNDS=3
DURATION=10
WARMUP=1
CLIENTS=64
STORM_THREADS=1
STORM_BRICKS=6
SOURCE_ADDRS=0
CYCLES=10
SIZES="1 12"
STATUS_VOLUMES=100
STATUS_CONNS=16
TRANSPORT=unix
GA=127.1.9.1
BA=127.1.9.2
BP=24517
EA=127.1.9.3
EP=24520
ECHO_PID=""
BRICKD_ARGS=""
OUT=""
KEEP=0
READY_TIMEOUT_S=30

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --phases) PHASES="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --clients) CLIENTS="$2"; shift 2 ;;
        --storm-threads) STORM_THREADS="$2"; shift 2 ;;
        --storm-bricks) STORM_BRICKS="$2"; shift 2 ;;
        --source-addrs) SOURCE_ADDRS="$2"; shift 2 ;;
        --cycles) CYCLES="$2"; shift 2 ;;
        --sizes) SIZES="$2"; shift 2 ;;
        --status-volumes) STATUS_VOLUMES="$2"; shift 2 ;;
        --status-conns) STATUS_CONNS="$2"; shift 2 ;;
        --transport) TRANSPORT="$2"; shift 2 ;;
        --glusterd-addr) GA="$2"; shift 2 ;;
        --brickd-addr) BA="$2"; shift 2 ;;
        --brickd-port) BP="$2"; shift 2 ;;
        --echo-addr) EA="$2"; shift 2 ;;
        --brickd-args) BRICKD_ARGS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "volumes.sh: unknown option $1" >&2; usage 2 >&2 ;;
    esac
done
for n in ROUNDS CYCLES CLIENTS STORM_THREADS STORM_BRICKS STATUS_VOLUMES STATUS_CONNS; do
    [[ "${!n}" =~ ^[1-9][0-9]*$ ]] || { echo "volumes.sh: --${n,,} must be a positive integer" >&2; exit 2; }
done
(( STATUS_VOLUMES <= 1000 )) || { echo "volumes.sh: at most 1000 status volumes" >&2; exit 2; }
[[ $TRANSPORT == unix || $TRANSPORT == tcp ]] || { echo "volumes.sh: --transport is unix or tcp" >&2; exit 2; }
has_phase() { [[ ",$PHASES," == *",$1,"* ]]; }
[[ "$(id -u)" == 0 ]] || { echo "volumes.sh needs root (loop devices, mounts, brick processes)" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"
ensure_packages glusterfs-server glusterfs-cli xfsprogs jq iproute2 gawk bsdextrautils
for tool in glusterd gluster glusterfsd mkfs.xfs losetup jq ss awk column; do
    command -v "$tool" >/dev/null || { echo "volumes.sh: $tool is not installed" >&2; exit 2; }
done

STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="${OUT:-$ROOT/target/perf/volumes-$STAMP}"
mkdir -p "$OUT"
echo "== building (release)" >&2
cargo build --release -p brickd -p brickd-perf --bin brickd --bin brickd-load --bin mount-storm \
    --bin vol-cycle --bin echo-server >&2
REVISION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]] || REVISION+=" (with uncommitted changes)"
BRICKD="$ROOT/target/release/brickd"
LOAD="$ROOT/target/release/brickd-load"
ECHO_SERVER="$ROOT/target/release/echo-server"
STORM="$ROOT/target/release/mount-storm"
CYCLE="$ROOT/target/release/vol-cycle"

# The address checks: glusterd needs port 24007 on its address, and nobody may hold
# 0.0.0.0:24007 (a system glusterd) or the brickd address.
listening_on() { # addr port
    ss -Hltn "( sport = :$2 )" | awk -v a="$1" -v p="$2" '$4 == a ":" p || $4 == "0.0.0.0:" p || $4 == "*:" p || $4 == "[::]:" p { found = 1 } END { exit !found }'
}
if listening_on "$GA" 24007; then
    echo "volumes.sh: $GA:24007 (or 0.0.0.0:24007) is taken; pick another --glusterd-addr or stop the system glusterd" >&2
    exit 1
fi
if listening_on "$EA" "$EP"; then
    echo "volumes.sh: $EA:$EP is taken; pick another --echo-addr" >&2
    exit 1
fi
if listening_on "$BA" "$BP"; then
    echo "volumes.sh: $BA:$BP is taken; pick another --brickd-addr/--brickd-port" >&2
    exit 1
fi

WORK="$(mktemp -d /tmp/brickd-volumes.XXXXXX)"
GD="$WORK/gd"
BD="$WORK/bd"
GD_PID=""
BD_PID=""
LOOPS=()
MOUNTS=()
FAILURES=0
# Volumes whose /var/log/glusterfs/gfproxy/VOL directory glusterd made in this run (it makes
# one, empty, per volume created, whatever its own log file is).
GFPROXY_DIRS=()

# Brick processes of this run: the pid files under the daemons' run directories, and any
# glusterfsd whose command line names this run's directory (one whose pid file is gone).
brick_pids() {
    local f pid
    for f in "$GD"/run/vols/*/*.pid "$BD"/run/vols/*/*.pid; do
        [[ -f "$f" ]] || continue
        pid="$(cat "$f" 2>/dev/null || true)"
        [[ "$pid" =~ ^[0-9]+$ ]] && echo "$pid"
    done
    for f in /proc/[0-9]*/cmdline; do
        pid="${f#/proc/}"; pid="${pid%/cmdline}"
        tr '\0' ' ' 2>/dev/null <"$f" | grep -q -- "--volfile-id .* -p $WORK/" && echo "$pid"
    done
    return 0
}

# The unix socket (-S) a brick process of ours listens on, read from its command line.
brick_socket() { # pid
    tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline" | awk 'prev == "-S" { print; exit } { prev = $0 }'
}

stop_pid() { # pid name
    local pid="$1" name="$2"
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "volumes.sh: $name (pid $pid) ignored SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    set +e
    echo "== cleaning up" >&2
    # The daemons first: brickd would restart a brick that goes away under it.
    stop_pid "$BD_PID" brickd
    stop_pid "$GD_PID" glusterd
    stop_pid "$ECHO_PID" echo-server
    local pids=() sockets=() pid sock
    mapfile -t pids < <(brick_pids | sort -u)
    for pid in "${pids[@]}"; do
        sock="$(brick_socket "$pid")"
        [[ "$sock" == /var/run/gluster/*.socket || "$sock" == /run/gluster/*.socket ]] && sockets+=("$sock")
        kill -TERM "$pid" 2>/dev/null
    done
    for _ in $(seq 100); do
        local left=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
        (( left )) || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    # And the sockets of the bricks stopped earlier in the run (a brick leaves its socket).
    [[ -f "$WORK/sockets.list" ]] && mapfile -t -O "${#sockets[@]}" sockets < <(sort -u "$WORK/sockets.list")
    for sock in "${sockets[@]}"; do
        [[ "$sock" == /var/run/gluster/*.socket || "$sock" == /run/gluster/*.socket ]] && rm -f "$sock"
    done
    local v
    for v in "${GFPROXY_DIRS[@]}"; do rmdir "/var/log/glusterfs/gfproxy/$v" 2>/dev/null; done
    local m
    for m in "${MOUNTS[@]}"; do
        for _ in 1 2 3 4 5; do umount "$m" 2>/dev/null && break; sleep 0.5; done
    done
    local l
    for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
    # glusterd's bricks log under its log directory whatever its other directories are.
    local dashed="${WORK#/}"
    dashed="${dashed//\//-}"
    rm -f /var/log/glusterfs/bricks/"$dashed"-*.log
    rm -f "$WORK"/*.img
    if [[ $KEEP == 1 || $status != 0 ]]; then
        echo "volumes.sh: daemon logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_xfs() { # name
    local img="$WORK/$1.img" dir="$WORK/$1" dev
    truncate -s 1G "$img"
    dev="$(losetup -f --show "$img")"
    LOOPS+=("$dev")
    mkfs.xfs -q -f "$dev"
    mkdir -p "$dir"
    mount "$dev" "$dir"
    MOUNTS+=("$dir")
}

start_glusterd() {
    mkdir -p "$GD/lib" "$GD/run" "$GD/log"
    glusterd -N \
        --xlator-option "management.transport.socket.bind-address=$GA" \
        --xlator-option "management.working-directory=$GD/lib" \
        --xlator-option "management.run-directory=$GD/run" \
        --xlator-option "management.glusterd-sockfile=$GD/run/glusterd.socket" \
        --pid-file="$GD/glusterd.pid" --log-file="$GD/log/glusterd.log" >"$GD/stdout.log" 2>&1 &
    GD_PID=$!
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "$GD_PID" 2>/dev/null || { echo "volumes.sh: glusterd exited; see $GD/log/glusterd.log" >&2; exit 1; }
        if [[ -S "$GD/run/glusterd.socket" ]] && (exec 3<>"/dev/tcp/$GA/24007") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "volumes.sh: glusterd did not listen on $GA:24007 within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

start_brickd() {
    mkdir -p "$BD/lib" "$BD/run" "$BD/log"
    # shellcheck disable=SC2086 # BRICKD_ARGS is a list of words on purpose
    "$BRICKD" serve --workdir "$BD/lib" --socket "$BD/brickd.socket" --listen "$BA:$BP" \
        --run-dir "$BD/run" --log-dir "$BD/log" $BRICKD_ARGS >"$BD/brickd.log" 2>&1 &
    BD_PID=$!
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "$BD_PID" 2>/dev/null || { echo "volumes.sh: brickd exited:" >&2; tail -5 "$BD/brickd.log" >&2; exit 1; }
        grep -q '^brickd ready' "$BD/brickd.log" && return 0
        sleep 0.1
    done
    echo "volumes.sh: brickd printed no 'ready' line within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

sock_of() { [[ $1 == glusterd ]] && echo "$GD/run/glusterd.socket" || echo "$BD/brickd.socket"; }
addr_of() { [[ $1 == glusterd ]] && echo "$GA" || echo "$BA"; }
port_of() { [[ $1 == glusterd ]] && echo 24007 || echo "$BP"; }
pid_of() { [[ $1 == glusterd ]] && echo "$GD_PID" || echo "$BD_PID"; }
xfs_of() { [[ $1 == glusterd ]] && echo "$WORK/xg" || echo "$WORK/xb"; }

cli() { # daemon args…
    local d="$1"; shift
    timeout 300 gluster --glusterd-sock="$(sock_of "$d")" --mode=script --log-file="$WORK/cli.log" "$@"
}

# Creates VOL with N bricks HOST:XFS/VOL/bK on a daemon.
create_volume() { # daemon vol n
    local d="$1" vol="$2" n="$3" bricks=() k out
    # glusterd makes a brick directory but not its parent.
    mkdir -p "$(xfs_of "$d")/$vol"
    [[ $d != glusterd || -e "/var/log/glusterfs/gfproxy/$vol" ]] || GFPROXY_DIRS+=("$vol")
    for k in $(seq 0 $((n - 1))); do bricks+=("$(addr_of "$d"):$(xfs_of "$d")/$vol/b$k"); done
    out="$(cli "$d" volume create "$vol" "${bricks[@]}" force 2>&1)" || {
        echo "volumes.sh: $d: volume create $vol failed: $out" >&2; exit 1; }
}

# Notes the unix sockets of VOL's running bricks, for the clean-up.
note_sockets() { # daemon vol
    local f pid dir="$BD/run/vols/$2"
    [[ $1 == glusterd ]] && dir="$GD/run/vols/$2"
    for f in "$dir"/*.pid; do
        [[ -f "$f" ]] || continue
        pid="$(cat "$f" 2>/dev/null || true)"
        [[ "$pid" =~ ^[0-9]+$ ]] && brick_socket "$pid"
    done >>"$WORK/sockets.list"
}

# Starts VOL and waits until its N bricks are online (vol-cycle polls the status).
start_volume() { # daemon vol n
    local out
    out="$("$CYCLE" --socket "$(sock_of "$1")" --volume "$2" --op start --bricks "$3" \
        --log-file "$WORK/cli.log" 2>&1)" || { echo "volumes.sh: $1: start of $2 failed: $out" >&2; exit 1; }
    note_sockets "$1" "$2"
}

# Every running daemon's order in round R: glusterd first in odd rounds.
order_of_round() { (( $1 % 2 )) && echo "glusterd brickd" || echo "brickd glusterd"; }

median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        if (NR % 2) { print v[(NR + 1) / 2] } else { print (v[NR / 2] + v[NR / 2 + 1]) / 2 }
    }'
}
# Nearest-rank p90.
p90() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        i = int(0.9 * NR); if (i < 0.9 * NR) i++; print v[i]
    }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
fmt0() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.0f", v }'; }
fmt1() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.1f", v }'; }
check() { # value op threshold
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "n/a" || t == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0)
        print ok ? "PASS" : "FAIL"
    }'
}
# Median of a jq expression over a glob of JSON files.
med_json() { # jq-expr files…
    local expr="$1"; shift
    [[ -e "$1" ]] || { echo n/a; return; }
    jq -r "$expr // empty" "$@" | median
}
sum_json() { # jq-expr files…
    local expr="$1"; shift
    [[ -e "$1" ]] || { echo n/a; return; }
    jq -s "map($expr) | add" "$@"
}

CHECKS=()
SECTIONS=()
table() { # header rows… → prints an aligned table and keeps a markdown one in SECTIONS
    local header="$1"; shift
    { echo "$header"; printf '%s\n' "$@"; } | column -t -s '|'
    local md
    md="| ${header//|/ | } |"$'\n'"|$(awk -F'|' '{ for (i = 1; i <= NF; i++) printf (i == 1 ? "---|" : "---:|") }' <<<"$header")"
    local row
    for row in "$@"; do md+=$'\n'"| ${row//|/ | } |"; done
    SECTIONS+=("$md")
}

start_echo() {
    "$ECHO_SERVER" --listen "$EA:$EP" >"$WORK/echo.log" 2>&1 &
    ECHO_PID=$!
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "$ECHO_PID" 2>/dev/null || { echo "volumes.sh: echo-server exited; see $WORK/echo.log" >&2; exit 1; }
        grep -q '^echo-server ready' "$WORK/echo.log" && return 0
        sleep 0.1
    done
    echo "volumes.sh: echo-server printed no ready line within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

# Waits (up to 90 s) until the TIME_WAIT sockets a storm left are gone: a brick that binds
# 0.0.0.0:PORT fails with EADDRINUSE while PORT is held by one on any local address.
wait_time_wait() {
    local n
    for _ in $(seq 90); do
        n=$(ss -Htan state time-wait | wc -l)
        (( n < 200 )) && return 0
        sleep 1
    done
    echo "volumes.sh: still $n TIME_WAIT sockets after 90 s; going on" >&2
}

# One storm-phase run of mount-storm or brickd-load; FILE gets its JSON.
run_json() { # file command…
    local file="$1" rc=0; shift
    "$@" >"$file" 2>"$file.stderr" || rc=$?
    if [[ $rc != 0 || ! -s "$file" ]]; then
        echo "volumes.sh: $(basename "$file" .json) failed (exit $rc): $(cat "$file.stderr")" >&2
        mv "$file" "$file.failed" 2>/dev/null || true
        FAILURES=$((FAILURES + 1))
        return 1
    fi
    rm -f "$file.stderr"
}

echo "== loop-device XFS for each daemon's bricks" >&2
make_xfs xg
make_xfs xb
echo "== starting private glusterd on $GA:24007 and brickd on $BA:$BP" >&2
start_glusterd
start_brickd
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
DAEMONS=(glusterd brickd)

# ------------------------------------------------------------------------------------------
if has_phase storm; then
    echo "== storm: a $STORM_BRICKS-brick volume on each daemon" >&2
    for d in "${DAEMONS[@]}"; do
        create_volume "$d" storm "$STORM_BRICKS"
        start_volume "$d" storm "$STORM_BRICKS"
    done
    start_echo
    brick0() { echo "$(xfs_of "$1")/storm/b0"; }
    for round in $(seq "$ROUNDS"); do
        order="$(order_of_round "$round") echo"
        for d in $order; do
            file="$OUT/storm-$d-r$round.json"
            if [[ $d == echo ]]; then
                bricks="$(seq -s, -f '/floor/b%g' 0 $((STORM_BRICKS - 1)))"
                run_json "$file" "$STORM" --target "$EA:$EP" --volume storm --floor --bricks "$bricks" \
                    --clients "$CLIENTS" --duration "$DURATION" --warmup "$WARMUP" --server-pid "$ECHO_PID" \
                    --source-addrs "$SOURCE_ADDRS" --threads "$STORM_THREADS" --json || continue
            else
                run_json "$file" "$STORM" --target "$(addr_of "$d"):$(port_of "$d")" --volume storm \
                    --clients "$CLIENTS" --duration "$DURATION" --warmup "$WARMUP" --server-pid "$(pid_of "$d")" \
                    --source-addrs "$SOURCE_ADDRS" --threads "$STORM_THREADS" --json || continue
            fi
            printf '  storm %-8s r%s: %8.0f req/s %7.1f mounts/s  req p99 %8.1f us  mount p99 %9.1f us  server CPU %4.1f s  client CPU %4.1f s  errors %s\n' \
                "$d" "$round" "$(jq .rps "$file")" "$(jq .mounts_per_s "$file")" \
                "$(jq '.latency_us.p99' "$file")" "$(jq '.mount_latency_us.p99' "$file")" \
                "$(jq .server_cpu_s "$file")" "$(jq .client_cpu_s "$file")" "$(jq .errors "$file")" >&2
        done
        for d in $(order_of_round "$round"); do
            for w in "getspec getspec:/storm" "pbb port-by-brick:$(brick0 "$d")"; do
                read -r short wl <<<"$w"
                file="$OUT/storm-$short-$d-r$round.json"
                run_json "$file" "$LOAD" --target "tcp:$(addr_of "$d"):$(port_of "$d")" --workload "$wl" \
                    --conns 16 --depth 1 --duration "$DURATION" --warmup "$WARMUP" --server-pid "$(pid_of "$d")" \
                    --json || continue
                printf '  %-13s %-8s r%s: %8.0f req/s  p50 %7.1f us  p99 %8.1f us  errors %s\n' "${wl%%:*} 16x1" \
                    "$d" "$round" "$(jq .rps "$file")" "$(jq .latency_us.p50 "$file")" "$(jq .latency_us.p99 "$file")" "$(jq .errors "$file")" >&2
            done
        done
    done
    stop_pid "$ECHO_PID" echo-server
    rows=()
    declare -A S
    for d in "${DAEMONS[@]}" echo; do
        files=("$OUT"/storm-"$d"-r*.json)
        S[$d.rps]=$(med_json .rps "${files[@]}")
        S[$d.mps]=$(med_json .mounts_per_s "${files[@]}")
        S[$d.p50]=$(med_json .latency_us.p50 "${files[@]}")
        S[$d.p99]=$(med_json .latency_us.p99 "${files[@]}")
        S[$d.mp50]=$(med_json .mount_latency_us.p50 "${files[@]}")
        S[$d.mp99]=$(med_json .mount_latency_us.p99 "${files[@]}")
        S[$d.cp99]=$(med_json .connect_latency_us.p99 "${files[@]}")
        S[$d.gs99]=$(med_json '.by_procedure.getspec.latency_us.p99' "${files[@]}")
        S[$d.cpu]=$(med_json .req_per_server_cpu_s "${files[@]}")
        S[$d.scpu]=$(med_json .server_cpu_s "${files[@]}")
        S[$d.ccpu]=$(med_json .client_cpu_s "${files[@]}")
        S[$d.err]=$(sum_json .errors "${files[@]}")
    done
    for m in "requests/s|rps|0" "mounts/s|mps|1" "request p50 us|p50|1" "request p99 us|p99|1" \
             "mount p50 us|mp50|1" "mount p99 us|mp99|1" "connect p99 us|cp99|1" "GETSPEC p99 us|gs99|1" \
             "requests per server CPU-s|cpu|0" "server CPU s (of ${DURATION} s)|scpu|2" \
             "client CPU s (of ${DURATION} s)|ccpu|2" "errors (all rounds)|err|0"; do
        IFS='|' read -r label key digits <<<"$m"
        g="${S[glusterd.$key]}"; b="${S[brickd.$key]}"; e="${S[echo.$key]}"
        f=fmt1; [[ $digits == 0 ]] && f=fmt0
        rows+=("$label|$($f "$g")|$($f "$b")|$(ratio "$b" "$g")|$($f "$e")")
    done
    echo >&2
    echo "mount storm: $CLIENTS clients on $STORM_THREADS client thread(s), $STORM_BRICKS bricks, medians of $ROUNDS round(s) of ${DURATION}s"
    table "mount storm ($CLIENTS clients, $STORM_BRICKS-brick volume)|glusterd|brickd|brickd/glusterd|echo-server (floor)" "${rows[@]}"
    rows=()
    for w in "getspec|getspec:/storm" "pbb|port-by-brick:BRICK0"; do
        IFS='|' read -r short label <<<"$w"
        declare -A W=()
        for d in "${DAEMONS[@]}"; do
            files=("$OUT"/storm-"$short"-"$d"-r*.json)
            W[$d.rps]=$(med_json .rps "${files[@]}")
            W[$d.cpu]=$(med_json .req_per_server_cpu_s "${files[@]}")
            W[$d.p50]=$(med_json .latency_us.p50 "${files[@]}")
            W[$d.p99]=$(med_json .latency_us.p99 "${files[@]}")
            W[$d.err]=$(sum_json .errors "${files[@]}")
        done
        rows+=("$label 16x1|$(fmt0 "${W[glusterd.rps]}")|$(fmt0 "${W[brickd.rps]}")|$(ratio "${W[brickd.rps]}" "${W[glusterd.rps]}")|$(fmt0 "${W[glusterd.cpu]}")|$(fmt0 "${W[brickd.cpu]}")|$(fmt1 "${W[glusterd.p50]}")|$(fmt1 "${W[brickd.p50]}")|$(fmt1 "${W[glusterd.p99]}")|$(fmt1 "${W[brickd.p99]}")|${W[glusterd.err]} / ${W[brickd.err]}")
    done
    echo
    echo "the mount's two working calls on kept connections (brickd-load, TCP), medians of $ROUNDS round(s)"
    table "workload|glusterd req/s|brickd req/s|ratio|glusterd req/CPU-s|brickd req/CPU-s|glusterd p50 us|brickd p50 us|glusterd p99 us|brickd p99 us|errors g / b" "${rows[@]}"
    r=$(ratio "${S[brickd.rps]}" "${S[glusterd.rps]}")
    CHECKS+=("mount storm: brickd requests/s >= 10x glusterd|$(check "$r" '>=' 10) (${r}x)")
    r=$(ratio "${S[brickd.p99]}" "${S[glusterd.p99]}")
    CHECKS+=("mount storm: brickd request p99 <= 1/10 of glusterd's|$(check "$r" '<=' 0.1) (${r}x)")
    r=$(ratio "${S[brickd.mp99]}" "${S[glusterd.mp99]}")
    CHECKS+=("mount storm: brickd mount p99 <= 1/10 of glusterd's|$(check "$r" '<=' 0.1) (${r}x)")
    # Its bricks are not needed any more.
    for d in "${DAEMONS[@]}"; do
        "$CYCLE" --socket "$(sock_of "$d")" --volume storm --op stop --bricks "$STORM_BRICKS" \
            --log-file "$WORK/cli.log" >/dev/null || true
    done
    if has_phase startstop || has_phase status; then
        echo "== waiting for the storm's TIME_WAIT sockets to go" >&2
        wait_time_wait
    fi
fi

# ------------------------------------------------------------------------------------------
if has_phase startstop; then
    echo "== startstop: volumes of $SIZES bricks, $CYCLES cycles" >&2
    for d in "${DAEMONS[@]}"; do
        for n in $SIZES; do create_volume "$d" "ss$n" "$n"; done
    done
    CYCLES_TSV="$OUT/startstop.tsv"
    printf 'daemon\tbricks\tcycle\tstart_cli_ms\tstart_online_ms\tstop_cli_ms\tstop_gone_ms\n' >"$CYCLES_TSV"
    for cycle in $(seq "$CYCLES"); do
        for n in $SIZES; do
            for d in $(order_of_round "$cycle"); do
                base="$OUT/startstop-$d-$n-c$cycle"
                if ! "$CYCLE" --socket "$(sock_of "$d")" --volume "ss$n" --op start --bricks "$n" \
                        --log-file "$WORK/cli.log" >"$base-start.json" 2>"$base-start.stderr"; then
                    echo "volumes.sh: start of ss$n on $d (cycle $cycle) failed: $(cat "$base-start.stderr")" >&2
                    exit 1
                fi
                note_sockets "$d" "ss$n"
                if ! "$CYCLE" --socket "$(sock_of "$d")" --volume "ss$n" --op stop --bricks "$n" \
                        --log-file "$WORK/cli.log" >"$base-stop.json" 2>"$base-stop.stderr"; then
                    echo "volumes.sh: stop of ss$n on $d (cycle $cycle) failed: $(cat "$base-stop.stderr")" >&2
                    exit 1
                fi
                rm -f "$base-start.stderr" "$base-stop.stderr"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$d" "$n" "$cycle" \
                    "$(jq .cli_ms "$base-start.json")" "$(jq .online_ms "$base-start.json")" \
                    "$(jq .cli_ms "$base-stop.json")" "$(jq .gone_ms "$base-stop.json")" >>"$CYCLES_TSV"
                printf '  %-8s %2s bricks c%-2s: start %8.1f ms (CLI %8.1f)  stop %8.1f ms (CLI %8.1f)\n' "$d" "$n" "$cycle" \
                    "$(jq .online_ms "$base-start.json")" "$(jq .cli_ms "$base-start.json")" \
                    "$(jq .gone_ms "$base-stop.json")" "$(jq .cli_ms "$base-stop.json")" >&2
            done
        done
    done
    col() { # daemon bricks column → values
        awk -F'\t' -v d="$1" -v n="$2" -v c="$3" 'NR > 1 && $1 == d && $2 == n { print $c }' "$CYCLES_TSV"
    }
    rows=()
    for n in $SIZES; do
        for what in "start (all bricks online)|5" "start: CLI returned|4" "stop (all brick processes gone)|7" "stop: CLI returned|6"; do
            IFS='|' read -r label c <<<"$what"
            gm=$(col glusterd "$n" "$c" | median); bm=$(col brickd "$n" "$c" | median)
            g9=$(col glusterd "$n" "$c" | p90); b9=$(col brickd "$n" "$c" | p90)
            rows+=("$n brick(s): $label|$(fmt1 "$gm")|$(fmt1 "$g9")|$(fmt1 "$bm")|$(fmt1 "$b9")|$(ratio "$bm" "$gm")")
        done
        if [[ $n == 12 ]]; then
            r=$(ratio "$(col brickd 12 5 | median)" "$(col glusterd 12 5 | median)")
            CHECKS+=("12-brick start (until all online): brickd <= 1/2 of glusterd's wall time|$(check "$r" '<=' 0.5) (${r}x, medians)")
        fi
    done
    echo >&2
    echo "volume start/stop through the CLI: medians and p90 of $CYCLES cycles, ms"
    table "volume start/stop, ms|glusterd median|glusterd p90|brickd median|brickd p90|brickd/glusterd (medians)" "${rows[@]}"
fi

# ------------------------------------------------------------------------------------------
if has_phase status; then
    last=$((STATUS_VOLUMES - 1))
    # The first volume on each daemon, to see what a brick process costs.
    for d in "${DAEMONS[@]}"; do
        create_volume "$d" sv000 1
        start_volume "$d" sv000 1
    done
    probe=()
    mapfile -t probe < <(brick_pids | sort -u)
    rss_kib=$(ps -o rss= -p "$(IFS=,; echo "${probe[*]}")" | awk '{ s += $1; n++ } END { print (n ? int(s / n) : 0) }')
    avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
    # Every brick process of both daemons must fit with 2 GiB to spare; count twice a brick's
    # idle size (they grow once they serve).
    fit=$(( (avail_kib - 2 * 1024 * 1024) / (2 * 2 * (rss_kib > 0 ? rss_kib : 1)) + 1 ))
    STATUS_NOTE="$STATUS_VOLUMES volumes per daemon"
    if (( fit < STATUS_VOLUMES )); then
        echo "volumes.sh: memory for $fit volumes per daemon only (brick RSS ~${rss_kib} KiB, ${avail_kib} KiB available); using $fit" >&2
        STATUS_NOTE="$fit volumes per daemon (memory: asked for $STATUS_VOLUMES)"
        STATUS_VOLUMES=$fit
        last=$((STATUS_VOLUMES - 1))
    fi
    echo "== status: $STATUS_VOLUMES started 1-brick volumes on each daemon (brick RSS ~${rss_kib} KiB)" >&2
    declare -A SETUP_S
    for d in "${DAEMONS[@]}"; do
        t0=$EPOCHREALTIME
        for k in $(seq -f '%03g' 1 "$last"); do
            create_volume "$d" "sv$k" 1
            start_volume "$d" "sv$k" 1
        done
        SETUP_S[$d]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v n="$last" 'BEGIN { printf "%.1f s (%.0f ms per volume)", b - a, n ? (b - a) * 1000 / n : 0 }')
        echo "  $d: $last more volumes created and started in ${SETUP_S[$d]}" >&2
    done
    BRICK_PROCS=$(brick_pids | sort -u | wc -l)
    MEM_USED_KIB=$(( avail_kib - $(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) ))
    echo "  $BRICK_PROCS brick processes of this run are up; MemAvailable went down by $((MEM_USED_KIB / 1024)) MiB" >&2
    range="sv{$(printf '%03d' 0)..$(printf '%03d' "$last")}"
    STATUS_WORKLOADS=("vol-status:$range" "vol-status:sv000")
    target_of() {
        if [[ $TRANSPORT == unix ]]; then echo "unix:$(sock_of "$1")"; else echo "tcp:$(addr_of "$1"):$(port_of "$1")"; fi
    }
    slug() { echo "${1//[^A-Za-z0-9_-]/_}"; }
    for round in $(seq "$ROUNDS"); do
        for wl in "${STATUS_WORKLOADS[@]}"; do
            for d in $(order_of_round "$round"); do
                file="$OUT/status-$(slug "$wl")-$d-r$round.json"
                rc=0
                "$LOAD" --target "$(target_of "$d")" --workload "$wl" --conns "$STATUS_CONNS" --depth 1 \
                    --duration "$DURATION" --warmup "$WARMUP" --server-pid "$(pid_of "$d")" --json \
                    >"$file" 2>"$file.stderr" || rc=$?
                if [[ $rc != 0 || ! -s "$file" ]]; then
                    echo "volumes.sh: $wl against $d round $round failed (exit $rc): $(cat "$file.stderr")" >&2
                    mv "$file" "$file.failed" 2>/dev/null || true
                    FAILURES=$((FAILURES + 1))
                    continue
                fi
                rm -f "$file.stderr"
                printf '  %-8s %-22s r%s: %9.0f req/s  p50 %8.1f us  p99 %9.1f us  errors %s\n' "$d" "$wl" "$round" \
                    "$(jq .rps "$file")" "$(jq .latency_us.p50 "$file")" "$(jq .latency_us.p99 "$file")" "$(jq .errors "$file")" >&2
            done
        done
    done
    rows=()
    for wl in "${STATUS_WORKLOADS[@]}"; do
        declare -A V=()
        for d in "${DAEMONS[@]}"; do
            files=("$OUT"/status-"$(slug "$wl")"-"$d"-r*.json)
            V[$d.rps]=$(med_json .rps "${files[@]}")
            V[$d.p50]=$(med_json .latency_us.p50 "${files[@]}")
            V[$d.p99]=$(med_json .latency_us.p99 "${files[@]}")
            V[$d.cpu]=$(med_json .req_per_server_cpu_s "${files[@]}")
            V[$d.err]=$(sum_json .errors "${files[@]}")
        done
        r=$(ratio "${V[brickd.rps]}" "${V[glusterd.rps]}")
        rows+=("$wl ${STATUS_CONNS}x1|$(fmt0 "${V[glusterd.rps]}")|$(fmt0 "${V[brickd.rps]}")|$r|$(fmt0 "${V[glusterd.cpu]}")|$(fmt0 "${V[brickd.cpu]}")|$(fmt1 "${V[glusterd.p50]}")|$(fmt1 "${V[brickd.p50]}")|$(fmt1 "${V[glusterd.p99]}")|$(fmt1 "${V[brickd.p99]}")|${V[glusterd.err]} / ${V[brickd.err]}")
        CHECKS+=("volume status ($wl, $STATUS_VOLUMES started volumes), ${STATUS_CONNS}x1: brickd req/s >= 10x glusterd|$(check "$r" '>=' 10) (${r}x)")
    done
    echo >&2
    echo "volume status with $STATUS_NOTE started (1 brick each), transport $TRANSPORT, medians of $ROUNDS round(s)"
    table "workload|glusterd req/s|brickd req/s|ratio|glusterd req/CPU-s|brickd req/CPU-s|glusterd p50 us|brickd p50 us|glusterd p99 us|brickd p99 us|errors g / b" "${rows[@]}"
    SECTIONS+=("setup: volumes created and started one after another through the CLI (create, start, wait until online): glusterd ${SETUP_S[glusterd]}, brickd ${SETUP_S[brickd]}; $BRICK_PROCS brick processes of this run up at once; MemAvailable down by $((MEM_USED_KIB / 1024)) MiB")
fi
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

echo
for c in "${CHECKS[@]}"; do printf '%-90s %s\n' "${c%%|*}" "${c##*|}"; done
COMMAND="perf/volumes.sh --phases $PHASES --rounds $ROUNDS --duration $DURATION --warmup $WARMUP --clients $CLIENTS --storm-threads $STORM_THREADS --storm-bricks $STORM_BRICKS --source-addrs $SOURCE_ADDRS --cycles $CYCLES --sizes \"$SIZES\" --status-volumes $STATUS_VOLUMES --status-conns $STATUS_CONNS --transport $TRANSPORT"
[[ -z "$BRICKD_ARGS" ]] || COMMAND+=" --brickd-args \"$BRICKD_ARGS\""
{
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC'): volumes with real bricks, brickd vs glusterd $(glusterd --version | head -1 | awk '{print $2}')"
    echo
    echo "- command: \`$COMMAND\`"
    echo "- brickd: $REVISION"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r), $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- load average $LOADAVG_START at start, $LOADAVG_END at end"
    echo "- glusterd on $GA:24007, brickd on $BA:$BP; bricks on one loop-device XFS per daemon"
    for s in "${SECTIONS[@]}"; do echo; echo "$s"; done
    echo
    echo "| target | result |"
    echo "|---|---|"
    for c in "${CHECKS[@]}"; do echo "| ${c%%|*} | ${c##*|} |"; done
} >"$OUT/summary.md"
echo >&2
echo "markdown: $OUT/summary.md; raw runs: $OUT" >&2
if (( FAILURES > 0 )); then
    echo "volumes.sh: $FAILURES run(s) failed; they are left out of the medians" >&2
    exit 1
fi
