#!/usr/bin/env bash
# options.sh — issue 19's benchmarks: `volume set` and `volume get` on one brickd node against
# one glusterd 10.3 node in the same run.
#
# Starts one `brickd serve` on port 24007 of --brickd-addr (default 127.88.3.1; own workdir,
# unix socket, run, log and brick-socket directories) and one private glusterd on port 24007 of
# --glusterd-addr (default 127.88.3.2; `--xlator-option
# management.transport.socket.bind-address=…`, working and run directory and socket of its own,
# Debian's /etc/glusterfs/glusterd.vol for the rest, `-N`). Each gets one XFS file system on a
# loop device; its bricks are directories XFS/VOL. Every volume is a plain distribute volume
# of one brick, made with `volume create VOL ADDR:XFS/VOL force` through the real CLI. The
# target volume is ov0000; the fillers ov0001… stay stopped. For each point of --points
# (default "1 150 1000": volumes present, the target included; fillers are created up to it
# first, each daemon in turn):
#
#   set      --count (30) timed `volume set ov0000 performance.cache-size V` per daemon, V
#            alternating 64MB / 128MB (every set changes the value), the daemons alternating on
#            every timed set (odd sets brickd first), first with the target STOPPED, then
#            STARTED (`volume start ov0000` on both, a real glusterfsd each, waited for until
#            `volume status` shows the brick online; `volume stop` after, waited for until the
#            brick process is gone). Each set is timed twice, as perf/pool.sh times creates:
#            the CLI process's wall time (it includes the CLI's own start-up, ~70 ms here), and
#            the RPC time the CLI saw, from the first call it built to the last reply it read,
#            in its TRACE log (`rpc_clnt_record_build_header` → `rpc_clnt_reply_init`). p50
#            and p99 (nearest rank: of 30, the max), the ratios, and each daemon's p50 at the
#            last point against its p50 at the first.
#   get      at the first and the last point, with the target stopped: `brickd-load --workload
#            vol-get:ov0000:all` (what `gluster volume get ov0000 all` sends: CLI proc 41
#            GET_VOL_OPT) at --conns (16) connections x 1 over each daemon's unix socket,
#            --duration (10) s, --rounds (2) rounds alternating which daemon goes first.
#            Requests/s, p50, p99, requests per server CPU-second.
#
# Targets (issue 19): set p50 at the last point within 20% of the first point's (brickd; the
# same ratio is shown for glusterd), for both target states, CLI wall and CLI-seen RPC; get
# all at 16x1 brickd >= 10x glusterd requests/s.
#
# Everything is torn down on exit, whatever happens: both daemons, the brick processes they
# started (pid files under their run directories, and any glusterfsd whose command line names
# this run's directory) and the unix sockets glusterd's bricks had in /var/run/gluster, the
# mounts, the loop devices, the temporary directory, the brick logs glusterd wrote to
# /var/log/glusterfs/bricks for this run's paths and the empty /var/log/glusterfs/gfproxy/VOL
# directories it made for this run's volumes (its lines in cmd_history.log stay).
#
# Usage: perf/options.sh [--points "1 150 1000"] [--count 30] [--rounds 2] [--duration 10]
#                        [--warmup 1] [--conns 16] [--brickd-addr 127.88.3.1]
#                        [--glusterd-addr 127.88.3.2] [--brickd-args "FLAGS"] [--no-build]
#                        [--out DIR] [--keep]
# Needs root, xfsprogs, glusterfs-server and -cli, jq. Builds brickd and brickd-load in release
# unless --no-build (then target/release/{brickd,brickd-load} are used as they are).
# Output: tables on stdout, DIR/summary.md (markdown for perf/RESULTS.md), the per-set times
# (sets.tsv), the filler creates (filler.tsv) and every brickd-load JSON in DIR (default
# target/perf/options-DATE).
set -euo pipefail
export LC_ALL=C

POINTS="1 150 1000"
COUNT=30
ROUNDS=2
DURATION=10
WARMUP=1
CONNS=16
BA="127.88.3.1"
GA="127.88.3.2"
BRICKD_ARGS=""
BUILD=1
OUT=""
KEEP=0
READY_TIMEOUT_S=120
TARGET=ov0000
KEY=performance.cache-size

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --points) POINTS="$2"; shift 2 ;;
        --count) COUNT="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --conns) CONNS="$2"; shift 2 ;;
        --brickd-addr) BA="$2"; shift 2 ;;
        --glusterd-addr) GA="$2"; shift 2 ;;
        --brickd-args) BRICKD_ARGS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "options.sh: unknown option $1" >&2; usage 2 >&2 ;;
    esac
done
for n in COUNT ROUNDS DURATION CONNS; do
    [[ "${!n}" =~ ^[1-9][0-9]*$ ]] || { echo "options.sh: --${n,,} must be a positive integer" >&2; exit 2; }
done
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "options.sh: --warmup must be a whole number" >&2; exit 2; }
read -r -a PTS <<<"$POINTS"
(( ${#PTS[@]} >= 1 )) || { echo "options.sh: --points needs at least one volume count" >&2; exit 2; }
prev=0
for p in "${PTS[@]}"; do
    [[ "$p" =~ ^[1-9][0-9]*$ ]] && (( p > prev && p <= 10000 )) ||
        { echo "options.sh: --points must be increasing volume counts from 1 to 10000" >&2; exit 2; }
    prev=$p
done
FIRST_PT=${PTS[0]}
LAST_PT=${PTS[-1]}
[[ "$(id -u)" == 0 ]] || { echo "options.sh needs root (loop devices, mounts, trusted xattrs)" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"
ensure_packages glusterfs-server glusterfs-cli xfsprogs jq iproute2 gawk bsdextrautils
for tool in glusterd gluster glusterfsd mkfs.xfs losetup jq ss awk column; do
    command -v "$tool" >/dev/null || { echo "options.sh: $tool is not installed" >&2; exit 2; }
done

STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="${OUT:-$ROOT/target/perf/options-$STAMP}"
mkdir -p "$OUT"
if [[ $BUILD == 1 ]]; then
    echo "== building (release)" >&2
    cargo build --release -p brickd -p brickd-perf --bin brickd --bin brickd-load >&2
fi
BRICKD="$ROOT/target/release/brickd"
LOAD="$ROOT/target/release/brickd-load"
[[ -x "$BRICKD" && -x "$LOAD" ]] || { echo "options.sh: build brickd and brickd-load first (or drop --no-build)" >&2; exit 2; }
# A brickd-load older than the vol-get workload refuses it as unknown.
if "$LOAD" --target unix:/nonexistent --workload "vol-get:$TARGET:all" --duration 1 --warmup 0 2>&1 |
    grep -q 'unknown workload'; then
    echo "options.sh: $LOAD has no vol-get workload; rebuild it (or drop --no-build)" >&2
    exit 2
fi
REVISION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]] ||
    REVISION+=" (with uncommitted changes in src/)"
BRICKD_BUILT="$(date -u -r "$BRICKD" '+%Y-%m-%d %H:%M UTC')"

# Nobody may listen on port 24007 of our addresses (or on 0.0.0.0:24007).
listening_on() { # addr port
    ss -Hltn "( sport = :$2 )" | awk -v a="$1" -v p="$2" '$4 == a ":" p || $4 == "0.0.0.0:" p || $4 == "*:" p || $4 == "[::]:" p { found = 1 } END { exit !found }'
}
for a in "$BA" "$GA"; do
    if listening_on "$a" 24007; then
        echo "options.sh: $a:24007 (or 0.0.0.0:24007) is taken; pick other addresses" >&2
        exit 1
    fi
done

WORK="$(mktemp -d /tmp/brickd-options.XXXXXX)"
DAEMONS=(brickd glusterd)
declare -A PID=() ADDR=([brickd]="$BA" [glusterd]="$GA")
LOOPS=()
MOUNTS=()
FAILURES=0
# The /var/log/glusterfs/gfproxy entries there before the run: glusterd makes an empty
# directory there per volume created, whatever its log file is.
GFPROXY_BEFORE="$WORK/gfproxy.before"
ls -1 /var/log/glusterfs/gfproxy 2>/dev/null >"$GFPROXY_BEFORE" || true

dir_of() { [[ $1 == glusterd ]] && echo "$WORK/g" || echo "$WORK/b"; }
sock_of() { [[ $1 == glusterd ]] && echo "$WORK/g/run/glusterd.socket" || echo "$WORK/b/brickd.socket"; }
xfs_of() { [[ $1 == glusterd ]] && echo "$WORK/xg" || echo "$WORK/xb"; }

# Brick processes of this run: the pid files under the daemons' run directories, and any
# glusterfsd whose command line names this run's directory (one whose pid file is gone).
brick_pids() {
    local f pid
    while IFS= read -r -d '' f; do
        pid="$(cat "$f" 2>/dev/null || true)"
        [[ "$pid" =~ ^[0-9]+$ ]] && echo "$pid"
    done < <(find "$WORK"/b/run "$WORK"/g/run -name '*.pid' -print0 2>/dev/null)
    for f in /proc/[0-9]*/cmdline; do
        pid="${f#/proc/}"; pid="${pid%/cmdline}"
        tr '\0' ' ' 2>/dev/null <"$f" | grep -q -- "--volfile-id .* -p $WORK/" && echo "$pid"
    done
    return 0
}

# The unix socket (-S) a brick process listens on, read from its command line.
brick_socket() { # pid
    tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline" | awk 'prev == "-S" { print; exit } { prev = $0 }'
}

stop_pid() { # pid name
    local pid="$1" name="$2"
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    echo "options.sh: $name (pid $pid) ignored SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    set +e
    echo "== cleaning up" >&2
    local d pid pids=() sockets=() sock
    # The brick pids and sockets first (read before the daemons go: brickd would restart a
    # brick that goes away under it), then the daemons, then the bricks.
    mapfile -t pids < <(brick_pids | sort -u)
    for pid in "${pids[@]}"; do
        sock="$(brick_socket "$pid")"
        [[ "$sock" == /var/run/gluster/*.socket || "$sock" == /run/gluster/*.socket ]] && sockets+=("$sock")
    done
    for d in "${DAEMONS[@]}"; do
        [[ -n "${PID[$d]:-}" ]] && kill -TERM "${PID[$d]}" 2>/dev/null
    done
    for d in "${DAEMONS[@]}"; do stop_pid "${PID[$d]:-}" "$d"; done
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 50); do
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
    local m l v
    for m in "${MOUNTS[@]}"; do
        for _ in 1 2 3 4 5; do umount "$m" 2>/dev/null && break; sleep 0.5; done
    done
    for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
    # The empty gfproxy/VOL directories glusterd made for this run's volumes.
    if [[ -d /var/log/glusterfs/gfproxy ]]; then
        while IFS= read -r v; do
            [[ $v =~ ^ov[0-9]{4}$ ]] || continue
            grep -qx -- "$v" "$GFPROXY_BEFORE" || rmdir "/var/log/glusterfs/gfproxy/$v" 2>/dev/null
        done < <(ls -1 /var/log/glusterfs/gfproxy)
    fi
    # glusterd's bricks log under its log directory whatever its other directories are.
    local dashed="${WORK#/}"
    dashed="${dashed//\//-}"
    if [[ $status != 0 ]]; then
        # Keep the daemons' logs with the results, not in /tmp.
        mkdir -p "$OUT/logs"
        for d in "${DAEMONS[@]}"; do
            cp -r "$(dir_of "$d")/log" "$OUT/logs/$d" 2>/dev/null
            cp "$(dir_of "$d")"/*.log "$OUT/logs/$d/" 2>/dev/null
        done
        cp /var/log/glusterfs/bricks/"$dashed"-*.log "$OUT/logs/glusterd/" 2>/dev/null
        cp "$WORK"/cli*.log "$OUT/logs/" 2>/dev/null
        echo "options.sh: daemon logs copied to $OUT/logs" >&2
    fi
    rm -f /var/log/glusterfs/bricks/"$dashed"-*.log
    rm -f "$WORK"/*.img
    if [[ $KEEP == 1 ]]; then
        echo "options.sh: work directory kept: $WORK" >&2
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
    truncate -s 2G "$img"
    dev="$(losetup -f --show "$img")"
    LOOPS+=("$dev")
    mkfs.xfs -q -f "$dev"
    mkdir -p "$dir"
    mount "$dev" "$dir"
    MOUNTS+=("$dir")
}

spawn() { # daemon
    local d="$1" w
    w="$(dir_of "$1")"
    mkdir -p "$w/lib" "$w/run" "$w/log" "$w/s"
    if [[ $d == brickd ]]; then
        # brickd raises RLIMIT_MEMLOCK itself as far as the hard limit lets it (glommio locks
        # its rings; its shards fit in the default 8 MiB, and a root without CAP_SYS_RESOURCE,
        # as in a VM sandbox, cannot lift the hard limit with prlimit anyway), as pool.sh.
        # shellcheck disable=SC2086 # BRICKD_ARGS is a list of words on purpose
        "$BRICKD" serve --workdir "$w/lib" --socket "$w/brickd.socket" \
            --listen "$BA:24007" --run-dir "$w/run" --log-dir "$w/log" --brick-socket-dir "$w/s" \
            $BRICKD_ARGS >"$w/brickd.log" 2>&1 &
    else
        glusterd -N \
            --xlator-option "management.transport.socket.bind-address=$GA" \
            --xlator-option "management.working-directory=$w/lib" \
            --xlator-option "management.run-directory=$w/run" \
            --xlator-option "management.glusterd-sockfile=$w/run/glusterd.socket" \
            --pid-file="$w/glusterd.pid" --log-file="$w/log/glusterd.log" \
            >"$w/glusterd.log" 2>&1 &
    fi
    PID[$d]=$!
}

# The real CLI against a daemon.
cli() { # daemon args…
    local d="$1"; shift
    timeout 600 gluster --glusterd-sock="$(sock_of "$d")" --mode=script --log-file="$WORK/cli.log" "$@"
}

# Waits until a daemon answers the CLI.
wait_answers() { # daemon
    local d="$1"
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "${PID[$d]}" 2>/dev/null || {
            echo "options.sh: $d exited:" >&2
            tail -5 "$(dir_of "$d")/$d.log" "$(dir_of "$d")/log/glusterd.log" 2>/dev/null >&2
            exit 1
        }
        if [[ -S "$(sock_of "$d")" ]] && cli "$d" volume list >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "options.sh: $d did not answer the CLI within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

# The RPC time the CLI saw, in ms, from its TRACE log: the first call it built to the last
# reply it read (glusterfs log stamps: "[YYYY-MM-DD HH:MM:SS.uuuuuu +0000]").
rpc_ms() { # trace-log
    awk '
        function t(s,  a) { split(s, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
        /rpc_clnt_record_build_header/ && first == "" { first = t($2) }
        /rpc_clnt_reply_init/ { last = t($2) }
        END {
            if (first == "" || last == "") { print "n/a"; exit }
            if (last < first) last += 86400
            printf "%.3f\n", (last - first) * 1000
        }' "$1"
}

ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", (b - a) * 1000 }'; }

# One `volume create VOL ADDR:XFS/VOL force` (a plain distribute volume of one brick); sets
# CW, the CLI's wall time in ms.
create_volume() { # daemon vol
    local d="$1" vol="$2" t0 out
    t0=$EPOCHREALTIME
    out="$(cli "$d" volume create "$vol" "${ADDR[$d]}:$(xfs_of "$d")/$vol" force 2>&1)" || {
        echo "options.sh: $d: volume create $vol failed: $out" >&2; exit 1; }
    CW=$(ms_since "$t0")
    [[ "$out" == *"volume create: $vol: success"* ]] || { echo "options.sh: $d: volume create $vol: $out" >&2; exit 1; }
}

# How many of this run's volumes a daemon lists.
volume_count() { # daemon
    { cli "$1" volume list 2>/dev/null || true; } | grep -cE '^ov[0-9]{4}$' || true
}

# One timed `volume set TARGET KEY VALUE` through the real CLI; sets CW (the CLI's wall time)
# and CR (the RPC time it saw), in ms.
set_timed() { # daemon value
    local d="$1" value="$2" t0 t1 out log="$WORK/cli-trace.log"
    rm -f "$log"
    t0=$EPOCHREALTIME
    out="$(timeout 600 gluster --glusterd-sock="$(sock_of "$d")" --mode=script \
        --log-file="$log" --log-level=TRACE volume set "$TARGET" "$KEY" "$value" 2>&1)" || {
        echo "options.sh: $d: volume set $TARGET $KEY $value failed: $out" >&2; exit 1; }
    t1=$EPOCHREALTIME
    [[ "$out" == "volume set: success" ]] || { echo "options.sh: $d: volume set $TARGET $KEY $value: $out" >&2; exit 1; }
    CW=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')
    CR=$(rpc_ms "$log")
}

# The pids in a daemon's pid files for the target's bricks.
target_brick_pids() { # daemon
    local f pid
    for f in "$(dir_of "$1")/run/vols/$TARGET"/*.pid; do
        [[ -f "$f" ]] || continue
        pid="$(cat "$f" 2>/dev/null || true)"
        [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
    done
    return 0
}

# Starts the target on a daemon and waits until `volume status` shows its brick online.
start_target() { # daemon
    local d="$1" out pid t0
    t0=$EPOCHREALTIME
    out="$(cli "$d" volume start "$TARGET" 2>&1)" || { echo "options.sh: $d: volume start $TARGET failed: $out" >&2; exit 1; }
    [[ "$out" == *"volume start: $TARGET: success"* ]] || { echo "options.sh: $d: volume start $TARGET: $out" >&2; exit 1; }
    for _ in $(seq 600); do
        # A brick line ends with "Online Pid": "Y 12345" (a long brick name wraps, not these).
        if { cli "$d" volume status "$TARGET" 2>/dev/null || true; } | grep -qE '[[:space:]]Y[[:space:]]+[0-9]+[[:space:]]*$'; then
            for pid in $(target_brick_pids "$d"); do brick_socket "$pid"; done >>"$WORK/sockets.list"
            printf '  %-8s %s started, brick online after %.0f ms\n' "$d" "$TARGET" "$(ms_since "$t0")" >&2
            return 0
        fi
        sleep 0.1
    done
    echo "options.sh: $d: the brick of $TARGET is not online 60 s after its start:" >&2
    cli "$d" volume status "$TARGET" >&2 || true
    exit 1
}

# Stops the target on a daemon and waits until its brick process is gone.
stop_target() { # daemon
    local d="$1" out pids pid t0
    t0=$EPOCHREALTIME
    pids="$(target_brick_pids "$d")"
    out="$(cli "$d" volume stop "$TARGET" 2>&1)" || { echo "options.sh: $d: volume stop $TARGET failed: $out" >&2; exit 1; }
    [[ "$out" == *"volume stop: $TARGET: success"* ]] || { echo "options.sh: $d: volume stop $TARGET: $out" >&2; exit 1; }
    for pid in $pids; do
        for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && { echo "options.sh: $d: brick process $pid of $TARGET still runs 30 s after the stop" >&2; exit 1; }
    done
    printf '  %-8s %s stopped, brick process gone after %.0f ms\n' "$d" "$TARGET" "$(ms_since "$t0")" >&2
}

vols() { (( $1 == 1 )) && echo "1 volume" || echo "$1 volumes"; }

order_of_round() { (( $1 % 2 )) && echo "brickd glusterd" || echo "glusterd brickd"; }

# Nearest-rank percentile of the numbers on stdin.
pct() { # q (0..1)
    sort -g | awk -v q="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        i = int(q * NR); if (i < q * NR) i++; if (i < 1) i = 1; print v[i]
    }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.4g", a / b }'; }
fmt0() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.0f", v }'; }
fmt1() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.1f", v }'; }
# Ratios: three significant digits (0.204, 0.00229, 21.2).
fmt2() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.3g", v }'; }
check() { # value op threshold
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "n/a" || t == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0)
        print ok ? "met" : "NOT met"
    }'
}
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        if (NR % 2) { print v[(NR + 1) / 2] } else { print (v[NR / 2] + v[NR / 2 + 1]) / 2 }
    }'
}
med_json() { # jq-expr files…
    local expr="$1"; shift
    [[ -e "$1" ]] || { echo n/a; return; }
    jq -r "$expr // empty" "$@" | median
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

LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
START_UTC="$(date -u '+%Y-%m-%d %H:%M')"
T_START=$EPOCHREALTIME

# ------------------------------------------------------------------------------------------
echo "== set-up: an XFS per daemon, brickd on $BA:24007, glusterd on $GA:24007" >&2
make_xfs xb
make_xfs xg
for d in "${DAEMONS[@]}"; do spawn "$d"; done
for d in "${DAEMONS[@]}"; do wait_answers "$d"; done

# The CLI's own floor: the wall time of `gluster peer status` (a call each daemon answers in
# well under a millisecond).
declare -A FLOOR=()
for d in "${DAEMONS[@]}"; do
    FLOOR[$d]=$(for _ in $(seq 10); do
        t0=$EPOCHREALTIME
        cli "$d" peer status >/dev/null
        ms_since "$t0"; echo
    done | pct 0.5)
    echo "  $d: CLI peer status wall time p50 of 10: ${FLOOR[$d]} ms" >&2
done

SETS="$OUT/sets.tsv"
FILLER="$OUT/filler.tsv"
printf 'daemon\tvolumes\ttarget\tindex\tvalue\twall_ms\trpc_ms\n' >"$SETS"
printf 'daemon\tvolume\twall_ms\n' >"$FILLER"
declare -A EXISTING=([brickd]=0 [glusterd]=0) SET_N=([brickd]=0 [glusterd]=0) LAST_VALUE=() FILL_S=()

for d in "${DAEMONS[@]}"; do
    create_volume "$d" "$TARGET"
    EXISTING[$d]=1
done

# --count timed sets per daemon, alternating, at the current volume count.
timed_sets() { # point state
    local point="$1" state="$2" i d value
    for i in $(seq "$COUNT"); do
        for d in $(order_of_round "$i"); do
            SET_N[$d]=$(( ${SET_N[$d]} + 1 ))
            (( ${SET_N[$d]} % 2 )) && value=64MB || value=128MB
            set_timed "$d" "$value"
            LAST_VALUE[$d]=$value
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$d" "$point" "$state" "$i" "$value" "$CW" "$CR" >>"$SETS"
            printf '  %-8s %4d volumes, %-7s set %2d (%5s): CLI %8.1f ms  RPC %8.1f ms\n' \
                "$d" "$point" "$state" "$i" "$value" "$CW" "$CR" >&2
        done
    done
}

# vol-get:TARGET:all at CONNS x 1 on each daemon's unix socket, ROUNDS rounds.
get_load() { # point
    local point="$1" round d file rc out
    for d in "${DAEMONS[@]}"; do
        out="$(cli "$d" volume get "$TARGET" all 2>&1)" || { echo "options.sh: $d: volume get $TARGET all failed: $out" >&2; exit 1; }
        echo "  $d: \`volume get $TARGET all\` through the CLI: $(grep -c . <<<"$out") lines" >&2
    done
    for round in $(seq "$ROUNDS"); do
        for d in $(order_of_round $((round + 1))); do
            file="$OUT/vol-get-$point-$d-r$round.json"
            rc=0
            "$LOAD" --target "unix:$(sock_of "$d")" --workload "vol-get:$TARGET:all" --conns "$CONNS" --depth 1 \
                --duration "$DURATION" --warmup "$WARMUP" --server-pid "${PID[$d]}" --json \
                >"$file" 2>"$file.stderr" || rc=$?
            if [[ $rc != 0 || ! -s "$file" ]]; then
                echo "options.sh: vol-get against $d at $point volumes, round $round failed (exit $rc): $(cat "$file.stderr")" >&2
                mv "$file" "$file.failed" 2>/dev/null || true
                FAILURES=$((FAILURES + 1))
                continue
            fi
            rm -f "$file.stderr"
            printf '  %-8s %4d volumes r%s: %9.0f req/s  p50 %8.1f us  p99 %9.1f us  errors %s\n' "$d" "$point" "$round" \
                "$(jq .rps "$file")" "$(jq .latency_us.p50 "$file")" "$(jq .latency_us.p99 "$file")" "$(jq .errors "$file")" >&2
        done
    done
}

GET_POINTS=("$FIRST_PT")
(( LAST_PT != FIRST_PT )) && GET_POINTS+=("$LAST_PT")

for point in "${PTS[@]}"; do
    for d in "${DAEMONS[@]}"; do
        (( ${EXISTING[$d]} < point )) || continue
        echo "== filler: $d up to $point volumes" >&2
        t0=$EPOCHREALTIME
        while (( ${EXISTING[$d]} < point )); do
            vol="ov$(printf '%04d' "${EXISTING[$d]}")"
            create_volume "$d" "$vol"
            printf '%s\t%s\t%s\n' "$d" "$vol" "$CW" >>"$FILLER"
            EXISTING[$d]=$(( ${EXISTING[$d]} + 1 ))
        done
        FILL_S[$d]=$(awk -v a="${FILL_S[$d]:-0}" -v b="$(ms_since "$t0")" 'BEGIN { printf "%.1f", a + b / 1000 }')
        echo "  $d: ${EXISTING[$d]} volumes (${FILL_S[$d]} s of filler creates so far)" >&2
    done
    for d in "${DAEMONS[@]}"; do
        n="$(volume_count "$d")"
        [[ "$n" == "$point" ]] || { echo "options.sh: $d lists $n volumes, not $point" >&2; exit 1; }
    done
    if [[ " ${GET_POINTS[*]} " == *" $point "* ]]; then
        echo "== get: vol-get:$TARGET:all ${CONNS}x1, $ROUNDS round(s) of ${DURATION} s, $point volumes" >&2
        get_load "$point"
    fi
    echo "== set: $COUNT sets per daemon, $point volumes, $TARGET stopped" >&2
    timed_sets "$point" stopped
    for d in "${DAEMONS[@]}"; do start_target "$d"; done
    echo "== set: $COUNT sets per daemon, $point volumes, $TARGET started" >&2
    timed_sets "$point" started
    for d in "${DAEMONS[@]}"; do stop_target "$d"; done
done

# Each daemon must have kept the last value set.
for d in "${DAEMONS[@]}"; do
    out="$(cli "$d" volume get "$TARGET" "$KEY" 2>&1)" || { echo "options.sh: $d: volume get $TARGET $KEY failed: $out" >&2; exit 1; }
    awk -v k="$KEY" -v v="${LAST_VALUE[$d]}" '$1 == k && $2 == v { found = 1 } END { exit !found }' <<<"$out" ||
        { echo "options.sh: $d: $KEY of $TARGET is not ${LAST_VALUE[$d]} after the last set:" >&2; echo "$out" >&2; exit 1; }
done
RUN_S=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

# ------------------------------------------------------------------------------------------
col() { # daemon point state column(6 wall, 7 rpc) → values
    awk -F'\t' -v d="$1" -v p="$2" -v s="$3" -v c="$4" 'NR > 1 && $1 == d && $2 == p && $3 == s { print $c }' "$SETS"
}
declare -A S=()
for d in "${DAEMONS[@]}"; do
    for point in "${PTS[@]}"; do
        for state in stopped started; do
            for what in wall:6 rpc:7; do
                S[$d.$point.$state.${what%%:*}.p50]=$(col "$d" "$point" "$state" "${what##*:}" | pct 0.5)
                S[$d.$point.$state.${what%%:*}.p99]=$(col "$d" "$point" "$state" "${what##*:}" | pct 0.99)
            done
        done
    done
done
echo >&2
echo "volume set $TARGET $KEY through the real CLI, ms ($COUNT sets per point; p99 nearest rank)"
rows=()
for point in "${PTS[@]}"; do
    for state in stopped started; do
        for what in wall rpc; do
            [[ $what == wall ]] && wl="CLI wall" || wl="CLI-seen RPC"
            for q in p50 p99; do
                g=${S[glusterd.$point.$state.$what.$q]}; b=${S[brickd.$point.$state.$what.$q]}
                rows+=("$(vols "$point"), target $state, $wl $q|$(fmt1 "$g")|$(fmt1 "$b")|$(fmt2 "$(ratio "$b" "$g")")")
            done
        done
    done
done
if (( LAST_PT != FIRST_PT )); then
    for state in stopped started; do
        for what in wall rpc; do
            [[ $what == wall ]] && wl="CLI wall" || wl="CLI-seen RPC"
            for q in p50 p99; do
                r=$(ratio "${S[brickd.$LAST_PT.$state.$what.$q]}" "${S[brickd.$FIRST_PT.$state.$what.$q]}")
                rg=$(ratio "${S[glusterd.$LAST_PT.$state.$what.$q]}" "${S[glusterd.$FIRST_PT.$state.$what.$q]}")
                rows+=("$LAST_PT vs $(vols "$FIRST_PT"), target $state, $wl $q (same daemon)|$(fmt2 "$rg")x|$(fmt2 "$r")x|")
                [[ $q == p50 ]] && CHECKS+=("set $wl p50, target $state: $LAST_PT volumes within 20% of $(vols "$FIRST_PT") (brickd)|$(check "$r" '<=' 1.2) ($(fmt2 "$r")x; glusterd $(fmt2 "$rg")x)")
            done
        done
    done
fi
rows+=("CLI floor: \`peer status\` wall p50 of 10|$(fmt1 "${FLOOR[glusterd]}")|$(fmt1 "${FLOOR[brickd]}")|$(fmt2 "$(ratio "${FLOOR[brickd]}" "${FLOOR[glusterd]}")")")
table "volume set|glusterd ms|brickd ms|brickd/glusterd" "${rows[@]}"
filler_note=""
for d in "${DAEMONS[@]}"; do
    nf=$(awk -F'\t' -v d="$d" 'NR > 1 && $1 == d' "$FILLER" | wc -l)
    (( nf > 0 )) || continue
    filler_note+="- $d filler: $nf one-brick volumes in ${FILL_S[$d]} s, CLI wall p50 $(fmt1 "$(awk -F'\t' -v d="$d" 'NR > 1 && $1 == d { print $3 }' "$FILLER" | pct 0.5)") ms"$'\n'
done
if [[ -n "$filler_note" ]]; then
    SECTIONS+=("${filler_note%$'\n'}")
    printf '%s' "$filler_note"
fi

declare -A P=()
get_rows=()
for point in "${GET_POINTS[@]}"; do
    for d in "${DAEMONS[@]}"; do
        files=("$OUT"/vol-get-"$point"-"$d"-r*.json)
        P[$d.rps]=$(med_json .rps "${files[@]}")
        P[$d.p50]=$(med_json .latency_us.p50 "${files[@]}")
        P[$d.p99]=$(med_json .latency_us.p99 "${files[@]}")
        P[$d.cpu]=$(med_json .req_per_server_cpu_s "${files[@]}")
        P[$d.err]=$( [[ -e "${files[0]}" ]] && jq -s 'map(.errors) | add' "${files[@]}" || echo n/a)
    done
    rr=$(ratio "${P[brickd.rps]}" "${P[glusterd.rps]}")
    get_rows+=(
        "$(vols "$point"): requests/s|$(fmt0 "${P[glusterd.rps]}")|$(fmt0 "${P[brickd.rps]}")|$(fmt2 "$rr")"
        "$(vols "$point"): p50 us|$(fmt1 "${P[glusterd.p50]}")|$(fmt1 "${P[brickd.p50]}")|$(fmt2 "$(ratio "${P[brickd.p50]}" "${P[glusterd.p50]}")")"
        "$(vols "$point"): p99 us|$(fmt1 "${P[glusterd.p99]}")|$(fmt1 "${P[brickd.p99]}")|$(fmt2 "$(ratio "${P[brickd.p99]}" "${P[glusterd.p99]}")")"
        "$(vols "$point"): requests per server CPU-s|$(fmt0 "${P[glusterd.cpu]}")|$(fmt0 "${P[brickd.cpu]}")|$(fmt2 "$(ratio "${P[brickd.cpu]}" "${P[glusterd.cpu]}")")"
        "$(vols "$point"): errors (all rounds)|${P[glusterd.err]}|${P[brickd.err]}|"
    )
    CHECKS+=("volume get $TARGET all ${CONNS}x1 requests/s with $(vols "$point"): brickd >= 10x glusterd|$(check "$rr" '>=' 10) ($(fmt2 "$rr")x)")
done
echo >&2
echo "volume get $TARGET all (vol-get) at ${CONNS}x1 on the unix socket, medians of $ROUNDS round(s)"
table "volume get $TARGET all ${CONNS}x1|glusterd|brickd|brickd/glusterd" "${get_rows[@]}"
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

echo
for c in "${CHECKS[@]}"; do printf '%-100s %s\n' "${c%%|*}" "${c##*|}"; done
COMMAND="perf/options.sh --points \"$POINTS\" --count $COUNT --rounds $ROUNDS --duration $DURATION --warmup $WARMUP --conns $CONNS"
[[ $BUILD == 1 ]] || COMMAND+=" --no-build"
[[ -z "$BRICKD_ARGS" ]] || COMMAND+=" --brickd-args \"$BRICKD_ARGS\""
{
    echo "## $START_UTC–$(date -u '+%H:%M') UTC: volume set and get (issue 19), brickd vs glusterd $(glusterd --version | head -1 | awk '{print $2}')"
    echo
    echo "- command: \`$COMMAND\` (${RUN_S} s)"
    echo "- brickd: $REVISION, binary built $BRICKD_BUILT"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r), $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- load average $LOADAVG_START at start, $LOADAVG_END at end"
    echo "- one brickd node on $BA:24007 and one glusterd node on $GA:24007, one 2 GiB loop-device XFS each; plain distribute one-brick volumes made with \`force\`; target $TARGET (its own real glusterfsd while started), the others stopped; \`$KEY\` set alternately to 64MB and 128MB"
    for s in "${SECTIONS[@]}"; do echo; echo "$s"; done
    echo
    echo "| target | result |"
    echo "|---|---|"
    for c in "${CHECKS[@]}"; do echo "| ${c%%|*} | ${c##*|} |"; done
} >"$OUT/summary.md"
echo >&2
echo "markdown: $OUT/summary.md; raw: $OUT" >&2
if (( FAILURES > 0 )); then
    echo "options.sh: $FAILURES run(s) failed; they are left out of the medians" >&2
    exit 1
fi
