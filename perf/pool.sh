#!/usr/bin/env bash
# pool.sh — issue 18's pool benchmarks: a 3-node brickd pool against a 3-node glusterd 10.3 pool
# in the same run.
#
# Starts three `brickd serve` nodes, each on port 24007 of its own loopback address
# (--brickd-addrs, default 127.88.1.1-3; own workdir, unix socket, run, log and brick-socket
# directories), and three private glusterds on three other addresses (--glusterd-addrs, default
# 127.88.2.1-3; `--xlator-option management.transport.socket.bind-address=…`, working and run
# directory and socket of their own, Debian's /etc/glusterfs/glusterd.vol for the rest, `-N`).
# Each pool is formed through the real CLI (`peer probe` of nodes 2 and 3 from node 1) and gets
# one XFS file system on a loop device; node N's bricks are directories XFS/nN/VOL. Then:
#
#   create   replica 3 volumes `volume create VOL replica 3 A1:X/n1/VOL A2:X/n2/VOL A3:X/n3/VOL`
#            through the real CLI on node 1 of each pool, one at a time: --count (10) creates
#            (1..10), then --volumes minus --count filler creates (990; each pool in turn;
#            a pool's filler stops after --filler-max-s, 600 s, and the summary says how many
#            it made), then --count more creates with those volumes present. The pools
#            alternate on every timed create. Each create is timed twice: the CLI process's
#            wall time (what a user waits for; it includes the CLI's own start-up, ~70 ms here,
#            most of it `cli_check_gsync_present`), and the RPC time the CLI saw: from the
#            first call it built to the last reply it read, taken from its TRACE log
#            (`rpc_clnt_record_build_header` → `rpc_clnt_reply_init`, microsecond stamps).
#            p50 and p99 (nearest rank: the max of 10) per point, and the ratios.
#   peers    `brickd-load --workload peer-list` (what `gluster peer status` sends: CLI proc 3
#            LIST_FRIENDS, flags 1) at --conns (16) connections x 1 over node 1's unix socket,
#            --duration (10) s, --rounds (2) rounds alternating which pool goes first.
#   rejoin   with every volume present, node 2 of each pool is killed (SIGKILL) and started
#            again on the same workdir and address; the time from its start until, on it,
#            `peer status` shows both other nodes "Peer in Cluster (Connected)" and `volume
#            list` shows every volume (polled every --poll-ms, 50 ms, after each check; a
#            check is one or two CLI processes, ~70 ms each). --rejoins (1) per pool.
#
# Everything is torn down on exit, whatever happens: the six daemons (and any brick process
# they started: the pid files under their run directories; there are none, no volume is
# started), the mounts, the loop devices, the temporary directory, and the empty
# /var/log/glusterfs/gfproxy/VOL directories glusterd made for this run's volumes. glusterd's
# other logs in /var/log/glusterfs (cmd_history.log) stay.
#
# Usage: perf/pool.sh [--volumes 1000] [--count 10] [--filler-max-s 600] [--rounds 2]
#                     [--duration 10] [--warmup 1] [--conns 16] [--rejoins 1] [--poll-ms 50]
#                     [--brickd-addrs "127.88.1.1 127.88.1.2 127.88.1.3"]
#                     [--glusterd-addrs "127.88.2.1 127.88.2.2 127.88.2.3"]
#                     [--brickd-args "FLAGS"] [--no-build] [--out DIR] [--keep]
# Needs root, xfsprogs, glusterfs-server and -cli, jq. Builds brickd and brickd-load in release
# unless --no-build (then target/release/{brickd,brickd-load} are used as they are).
# Output: tables on stdout, DIR/summary.md (markdown for perf/RESULTS.md), the per-create
# times (creates.tsv, filler.tsv), rejoin.tsv and every brickd-load JSON in DIR (default
# target/perf/pool-DATE).
set -euo pipefail
export LC_ALL=C

VOLUMES=1000
COUNT=10
FILLER_MAX_S=600
ROUNDS=2
DURATION=10
WARMUP=1
CONNS=16
REJOINS=1
POLL_MS=50
B_ADDRS="127.88.1.1 127.88.1.2 127.88.1.3"
G_ADDRS="127.88.2.1 127.88.2.2 127.88.2.3"
BRICKD_ARGS=""
BUILD=1
OUT=""
KEEP=0
READY_TIMEOUT_S=120
REJOIN_TIMEOUT_S=900

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --volumes) VOLUMES="$2"; shift 2 ;;
        --count) COUNT="$2"; shift 2 ;;
        --filler-max-s) FILLER_MAX_S="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --conns) CONNS="$2"; shift 2 ;;
        --rejoins) REJOINS="$2"; shift 2 ;;
        --poll-ms) POLL_MS="$2"; shift 2 ;;
        --brickd-addrs) B_ADDRS="$2"; shift 2 ;;
        --glusterd-addrs) G_ADDRS="$2"; shift 2 ;;
        --brickd-args) BRICKD_ARGS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "pool.sh: unknown option $1" >&2; usage 2 >&2 ;;
    esac
done
for n in VOLUMES COUNT FILLER_MAX_S ROUNDS DURATION CONNS REJOINS POLL_MS; do
    [[ "${!n}" =~ ^[1-9][0-9]*$ ]] || { echo "pool.sh: --${n,,} must be a positive integer" >&2; exit 2; }
done
(( VOLUMES >= COUNT )) || { echo "pool.sh: --volumes must be at least --count" >&2; exit 2; }
(( VOLUMES - COUNT <= 9999 )) || { echo "pool.sh: at most 9999 filler volumes" >&2; exit 2; }
(( COUNT <= 99 )) || { echo "pool.sh: --count is at most 99" >&2; exit 2; }
read -r -a BA <<<"$B_ADDRS"
read -r -a GA <<<"$G_ADDRS"
[[ ${#BA[@]} == 3 && ${#GA[@]} == 3 ]] || { echo "pool.sh: three addresses per pool" >&2; exit 2; }
[[ "$(id -u)" == 0 ]] || { echo "pool.sh needs root (loop devices, mounts, trusted xattrs)" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"
ensure_packages glusterfs-server glusterfs-cli xfsprogs jq iproute2 gawk bsdextrautils
for tool in glusterd gluster mkfs.xfs losetup jq ss awk column; do
    command -v "$tool" >/dev/null || { echo "pool.sh: $tool is not installed" >&2; exit 2; }
done

STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="${OUT:-$ROOT/target/perf/pool-$STAMP}"
mkdir -p "$OUT"
if [[ $BUILD == 1 ]]; then
    echo "== building (release)" >&2
    cargo build --release -p brickd -p brickd-perf --bin brickd --bin brickd-load >&2
fi
BRICKD="$ROOT/target/release/brickd"
LOAD="$ROOT/target/release/brickd-load"
[[ -x "$BRICKD" && -x "$LOAD" ]] || { echo "pool.sh: build brickd and brickd-load first (or drop --no-build)" >&2; exit 2; }
REVISION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]] ||
    REVISION+=" (with uncommitted changes in src/)"
BRICKD_BUILT="$(date -u -r "$BRICKD" '+%Y-%m-%d %H:%M UTC')"

# Nobody may listen on port 24007 of our addresses (or on 0.0.0.0:24007).
listening_on() { # addr port
    ss -Hltn "( sport = :$2 )" | awk -v a="$1" -v p="$2" '$4 == a ":" p || $4 == "0.0.0.0:" p || $4 == "*:" p || $4 == "[::]:" p { found = 1 } END { exit !found }'
}
for a in "${BA[@]}" "${GA[@]}"; do
    if listening_on "$a" 24007; then
        echo "pool.sh: $a:24007 (or 0.0.0.0:24007) is taken; pick other addresses" >&2
        exit 1
    fi
done

WORK="$(mktemp -d /tmp/brickd-pool.XXXXXX)"
NODES=(b1 b2 b3 g1 g2 g3)
declare -A PID=() ADDR=() KIND=() STARTS=()
for i in 0 1 2; do
    ADDR[b$((i + 1))]="${BA[$i]}"; KIND[b$((i + 1))]=brickd
    ADDR[g$((i + 1))]="${GA[$i]}"; KIND[g$((i + 1))]=glusterd
done
LOOPS=()
MOUNTS=()
FAILURES=0
# The /var/log/glusterfs/gfproxy entries there before the run: glusterd makes an empty
# directory there per volume created, whatever its log file is.
GFPROXY_BEFORE="$WORK/gfproxy.before"
ls -1 /var/log/glusterfs/gfproxy 2>/dev/null >"$GFPROXY_BEFORE" || true

dir_of() { echo "$WORK/$1"; }
sock_of() { [[ ${KIND[$1]} == glusterd ]] && echo "$WORK/$1/run/glusterd.socket" || echo "$WORK/$1/brickd.socket"; }
pool_nodes() { [[ $1 == glusterd ]] && echo "g1 g2 g3" || echo "b1 b2 b3"; }
xfs_of() { [[ $1 == glusterd ]] && echo "$WORK/xg" || echo "$WORK/xb"; }

# Brick processes of this run (none unless a volume was started): the pid files under the
# daemons' run directories (glusterd's own pid file is not under run/).
brick_pids() {
    local f pid
    while IFS= read -r -d '' f; do
        pid="$(cat "$f" 2>/dev/null || true)"
        [[ "$pid" =~ ^[0-9]+$ ]] && echo "$pid"
    done < <(find "$WORK"/b?/run "$WORK"/g?/run -name '*.pid' -print0 2>/dev/null)
    return 0
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
    echo "pool.sh: $name (pid $pid) ignored SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    set +e
    echo "== cleaning up" >&2
    local n pid pids=()
    # The brick pid files first (read before the daemons go), then the daemons, in parallel.
    mapfile -t pids < <(brick_pids | sort -u)
    for n in "${NODES[@]}"; do
        [[ -n "${PID[$n]:-}" ]] && kill -TERM "${PID[$n]}" 2>/dev/null
    done
    for n in "${NODES[@]}"; do stop_pid "${PID[$n]:-}" "${KIND[$n]} $n"; done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    local m l v
    for m in "${MOUNTS[@]}"; do
        for _ in 1 2 3 4 5; do umount "$m" 2>/dev/null && break; sleep 0.5; done
    done
    for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
    # The empty gfproxy/VOL directories glusterd made for this run's volumes.
    if [[ -d /var/log/glusterfs/gfproxy ]]; then
        while IFS= read -r v; do
            [[ $v =~ ^p[afz][0-9]+$ ]] || continue
            grep -qx -- "$v" "$GFPROXY_BEFORE" || rmdir "/var/log/glusterfs/gfproxy/$v" 2>/dev/null
        done < <(ls -1 /var/log/glusterfs/gfproxy)
    fi
    if [[ $status != 0 ]]; then
        # Keep the daemons' logs with the results, not in /tmp.
        mkdir -p "$OUT/logs"
        for n in "${NODES[@]}"; do
            cp -r "$WORK/$n/log" "$OUT/logs/$n" 2>/dev/null
            cp "$WORK/$n"/*.log "$OUT/logs/$n/" 2>/dev/null
        done
        cp "$WORK"/cli*.log "$OUT/logs/" 2>/dev/null
        echo "pool.sh: daemon logs copied to $OUT/logs" >&2
    fi
    rm -f "$WORK"/*.img
    if [[ $KEEP == 1 ]]; then
        echo "pool.sh: work directory kept: $WORK" >&2
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
    # glusterd makes a brick directory but not its parent.
    mkdir -p "$dir/n1" "$dir/n2" "$dir/n3"
}

# Starts node N in the background (no waiting): the same command line every time, on the same
# directories, as a restarted daemon would be.
spawn() { # node
    local n="$1" d="$WORK/$1"
    STARTS[$n]=$(( ${STARTS[$n]:-0} + 1 ))
    mkdir -p "$d/lib" "$d/run" "$d/log" "$d/s"
    if [[ ${KIND[$n]} == brickd ]]; then
        # shellcheck disable=SC2086 # BRICKD_ARGS is a list of words on purpose
        "$BRICKD" serve --workdir "$d/lib" --socket "$d/brickd.socket" --listen "${ADDR[$n]}:24007" \
            --run-dir "$d/run" --log-dir "$d/log" --brick-socket-dir "$d/s" $BRICKD_ARGS \
            >"$d/brickd.${STARTS[$n]}.log" 2>&1 &
    else
        glusterd -N \
            --xlator-option "management.transport.socket.bind-address=${ADDR[$n]}" \
            --xlator-option "management.working-directory=$d/lib" \
            --xlator-option "management.run-directory=$d/run" \
            --xlator-option "management.glusterd-sockfile=$d/run/glusterd.socket" \
            --pid-file="$d/glusterd.pid" --log-file="$d/log/glusterd.log" \
            >"$d/glusterd.${STARTS[$n]}.log" 2>&1 &
    fi
    PID[$n]=$!
}

# The real CLI against node N.
cli() { # node args…
    local n="$1"; shift
    timeout 600 gluster --glusterd-sock="$(sock_of "$n")" --mode=script --log-file="$WORK/cli.log" "$@"
}

# Waits until node N answers the CLI.
wait_answers() { # node
    local n="$1"
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "${PID[$n]}" 2>/dev/null || {
            echo "pool.sh: ${KIND[$n]} $n exited:" >&2
            tail -5 "$WORK/$n/${KIND[$n]}.${STARTS[$n]}.log" "$WORK/$n/log/glusterd.log" 2>/dev/null >&2
            exit 1
        }
        if [[ -S "$(sock_of "$n")" ]] && cli "$n" volume list >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "pool.sh: ${KIND[$n]} $n did not answer the CLI within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

# How many peers node N shows "Peer in Cluster (Connected)" (0 when it does not answer).
connected_peers() { # node
    { cli "$1" peer status 2>/dev/null || true; } | grep -c '^State: Peer in Cluster (Connected)$' || true
}

# How many of this run's volumes node N lists (0 when it does not answer).
volume_count() { # node
    { cli "$1" volume list 2>/dev/null || true; } | grep -cE '^p[afz][0-9]+$' || true
}

# Waits (up to S seconds) until every node of POOL shows the two others in cluster, connected.
wait_pool_connected() { # pool seconds
    local n all
    for _ in $(seq $(($2 * 10))); do
        all=1
        for n in $(pool_nodes "$1"); do
            [[ "$(connected_peers "$n")" == 2 ]] || { all=0; break; }
        done
        (( all )) && return 0
        sleep 0.1
    done
    echo "pool.sh: the $1 pool is not fully connected after $2 s:" >&2
    for n in $(pool_nodes "$1"); do echo "--- $n" >&2; cli "$n" peer status >&2 || true; done
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

# One timed `volume create VOL replica 3 …` through the real CLI on node 1 of POOL; sets CW
# (the CLI's wall time) and CR (the RPC time it saw), in ms.
create_timed() { # pool vol
    local pool="$1" vol="$2" n bricks=() first t0 t1 out log="$WORK/cli-trace.log"
    read -r first _ <<<"$(pool_nodes "$pool")"
    for n in $(pool_nodes "$pool"); do
        bricks+=("${ADDR[$n]}:$(xfs_of "$pool")/n${n:1}/$vol")
    done
    rm -f "$log"
    t0=$EPOCHREALTIME
    out="$(timeout 600 gluster --glusterd-sock="$(sock_of "$first")" --mode=script \
        --log-file="$log" --log-level=TRACE volume create "$vol" replica 3 "${bricks[@]}" 2>&1)" || {
        echo "pool.sh: $pool: volume create $vol failed: $out" >&2; exit 1; }
    t1=$EPOCHREALTIME
    [[ "$out" == *"volume create: $vol: success"* ]] || { echo "pool.sh: $pool: volume create $vol: $out" >&2; exit 1; }
    CW=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')
    CR=$(rpc_ms "$log")
}

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

# ------------------------------------------------------------------------------------------
echo "== set-up: XFS per pool, 3 brickd + 3 glusterd, pools formed by peer probe" >&2
make_xfs xb
make_xfs xg
for n in "${NODES[@]}"; do spawn "$n"; done
for n in "${NODES[@]}"; do wait_answers "$n"; done
declare -A FORM_S=()
for pool in brickd glusterd; do
    read -r first second third <<<"$(pool_nodes "$pool")"
    t0=$EPOCHREALTIME
    for n in "$second" "$third"; do
        out="$(cli "$first" peer probe "${ADDR[$n]}" 2>&1)" || { echo "pool.sh: $pool: peer probe ${ADDR[$n]}: $out" >&2; exit 1; }
        [[ "$out" == "peer probe: success"* ]] || { echo "pool.sh: $pool: peer probe ${ADDR[$n]}: $out" >&2; exit 1; }
    done
    wait_pool_connected "$pool" 120
    FORM_S[$pool]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
    echo "  $pool pool: two probes and every node connected in ${FORM_S[$pool]} s" >&2
done

# The CLI's own floor: the wall time of `gluster peer status` on node 1 (a call each daemon
# answers in well under a millisecond; see the peer-status figures below).
declare -A FLOOR=()
for pool in brickd glusterd; do
    read -r first _ <<<"$(pool_nodes "$pool")"
    FLOOR[$pool]=$(for _ in $(seq 10); do
        t0=$EPOCHREALTIME
        cli "$first" peer status >/dev/null
        awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
    done | pct 0.5)
    echo "  $pool: CLI peer status wall time p50 of 10: ${FLOOR[$pool]} ms" >&2
done

# ------------------------------------------------------------------------------------------
CREATES="$OUT/creates.tsv"
FILLER="$OUT/filler.tsv"
printf 'pool\tpoint\tindex\tvolume\tvolumes_before\twall_ms\trpc_ms\n' >"$CREATES"
printf 'pool\tindex\tvolume\twall_ms\trpc_ms\n' >"$FILLER"
declare -A EXISTING=([brickd]=0 [glusterd]=0)

timed_point() { # point prefix
    local point="$1" prefix="$2" i pool vol w r
    for i in $(seq "$COUNT"); do
        for pool in $(order_of_round "$i"); do
            vol="$prefix$(printf '%02d' "$i")"
            create_timed "$pool" "$vol"
            w=$CW r=$CR
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pool" "$point" "$i" "$vol" "${EXISTING[$pool]}" "$w" "$r" >>"$CREATES"
            EXISTING[$pool]=$(( ${EXISTING[$pool]} + 1 ))
            printf '  %-8s %s (%4d before): CLI %8.1f ms  RPC %8.1f ms\n' "$pool" "$vol" "$(( ${EXISTING[$pool]} - 1 ))" "$w" "$r" >&2
        done
    done
}

echo "== create: $COUNT replica 3 creates per pool (1..$COUNT)" >&2
timed_point first pa

FILL=$((VOLUMES - COUNT))
declare -A FILLED=() FILL_S=()
for pool in brickd glusterd; do
    echo "== filler: $FILL creates on the $pool pool (at most ${FILLER_MAX_S} s)" >&2
    t0=$EPOCHREALTIME
    deadline=$(( ${EPOCHREALTIME%.*} + FILLER_MAX_S ))
    k=0
    while (( k < FILL )); do
        if (( ${EPOCHREALTIME%.*} >= deadline )); then
            echo "pool.sh: $pool filler stopped after ${FILLER_MAX_S} s at $k of $FILL volumes" >&2
            break
        fi
        k=$((k + 1))
        vol="pf$(printf '%04d' "$k")"
        create_timed "$pool" "$vol"
        w=$CW r=$CR
        printf '%s\t%s\t%s\t%s\t%s\n' "$pool" "$k" "$vol" "$w" "$r" >>"$FILLER"
        EXISTING[$pool]=$(( ${EXISTING[$pool]} + 1 ))
        (( k % 100 )) || printf '  %-8s %5d filler volumes, %6.0f s; last: CLI %.1f ms, RPC %.1f ms\n' "$pool" "$k" \
            "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" "$w" "$r" >&2
    done
    FILLED[$pool]=$k
    FILL_S[$pool]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
    echo "  $pool: $k filler volumes in ${FILL_S[$pool]} s" >&2
done

echo "== create: $COUNT more creates per pool (brickd ${EXISTING[brickd]}, glusterd ${EXISTING[glusterd]} volumes present)" >&2
declare -A AT_MANY=([brickd]=${EXISTING[brickd]} [glusterd]=${EXISTING[glusterd]})
timed_point many pz

col() { # pool point column(6 wall, 7 rpc) → values
    awk -F'\t' -v p="$1" -v pt="$2" -v c="$3" 'NR > 1 && $1 == p && $2 == pt { print $c }' "$CREATES"
}
declare -A C=()
for pool in brickd glusterd; do
    for point in first many; do
        for what in wall:6 rpc:7; do
            C[$pool.$point.${what%%:*}.p50]=$(col "$pool" "$point" "${what##*:}" | pct 0.5)
            C[$pool.$point.${what%%:*}.p99]=$(col "$pool" "$point" "${what##*:}" | pct 0.99)
        done
    done
done
rows=()
for point in first many; do
    if [[ $point == first ]]; then label="creates 1..$COUNT (0..$((COUNT - 1)) present)"; else
        label="$COUNT creates, ${AT_MANY[brickd]} (b) / ${AT_MANY[glusterd]} (g) present"; fi
    for what in wall rpc; do
        [[ $what == wall ]] && wl="CLI wall" || wl="CLI-seen RPC"
        for q in p50 p99; do
            g=${C[glusterd.$point.$what.$q]}; b=${C[brickd.$point.$what.$q]}
            r=$(ratio "$b" "$g")
            rows+=("$label, $wl $q|$(fmt1 "$g")|$(fmt1 "$b")|$(fmt2 "$r")")
            CHECKS+=("create $wl $q, $label: brickd <= 1/5 of glusterd|$(check "$r" '<=' 0.2) ($(fmt2 "$r")x)")
        done
    done
done
for what in wall rpc; do
    [[ $what == wall ]] && wl="CLI wall" || wl="CLI-seen RPC"
    for q in p50 p99; do
        r=$(ratio "${C[brickd.many.$what.$q]}" "${C[brickd.first.$what.$q]}")
        rg=$(ratio "${C[glusterd.many.$what.$q]}" "${C[glusterd.first.$what.$q]}")
        rows+=("at ${AT_MANY[brickd]} / ${AT_MANY[glusterd]} present vs creates 1..$COUNT, $wl $q (same pool)|$(fmt2 "$rg")x|$(fmt2 "$r")x|")
        CHECKS+=("create $wl $q with ${AT_MANY[brickd]} present within 20% of creates 1..$COUNT (brickd)|$(check "$r" '<=' 1.2) ($(fmt2 "$r")x; glusterd $(fmt2 "$rg")x)")
    done
done
echo >&2
echo "3-node replica 3 volume create through the real CLI, ms (p99 of $COUNT = the max)"
rows+=("CLI floor: \`peer status\` wall p50 of 10 on node 1|$(fmt1 "${FLOOR[glusterd]}")|$(fmt1 "${FLOOR[brickd]}")|$(fmt2 "$(ratio "${FLOOR[brickd]}" "${FLOOR[glusterd]}")")")
table "create|glusterd ms|brickd ms|brickd/glusterd" "${rows[@]}"
filler_note=""
for pool in brickd glusterd; do
    fp() { awk -F'\t' -v p="$1" -v lo="$2" -v hi="$3" -v c="$4" 'NR > 1 && $1 == p && $2 >= lo && $2 <= hi { print $c }' "$FILLER"; }
    f=${FILLED[$pool]}
    if (( f > 0 )); then
        lo=$(( f > 100 ? f - 99 : 1 ))
        filler_note+="- $pool filler: ${FILLED[$pool]} of $FILL volumes in ${FILL_S[$pool]} s; CLI wall p50 of fillers 1-$(( f < 100 ? f : 100 )) $(fmt1 "$(fp "$pool" 1 100 4 | pct 0.5)") ms, of $lo-$f $(fmt1 "$(fp "$pool" "$lo" "$f" 4 | pct 0.5)") ms; RPC p50 $(fmt1 "$(fp "$pool" 1 100 5 | pct 0.5)") → $(fmt1 "$(fp "$pool" "$lo" "$f" 5 | pct 0.5)") ms"$'\n'
    fi
done
SECTIONS+=("${filler_note%$'\n'}")
printf '%s' "$filler_note"

# ------------------------------------------------------------------------------------------
echo "== peer status: brickd-load peer-list ${CONNS}x1, $ROUNDS round(s) of ${DURATION} s" >&2
for round in $(seq "$ROUNDS"); do
    for pool in $(order_of_round $((round + 1))); do
        read -r first _ <<<"$(pool_nodes "$pool")"
        file="$OUT/peer-list-$pool-r$round.json"
        rc=0
        "$LOAD" --target "unix:$(sock_of "$first")" --workload peer-list --conns "$CONNS" --depth 1 \
            --duration "$DURATION" --warmup "$WARMUP" --server-pid "${PID[$first]}" --json \
            >"$file" 2>"$file.stderr" || rc=$?
        if [[ $rc != 0 || ! -s "$file" ]]; then
            echo "pool.sh: peer-list against $pool round $round failed (exit $rc): $(cat "$file.stderr")" >&2
            mv "$file" "$file.failed" 2>/dev/null || true
            FAILURES=$((FAILURES + 1))
            continue
        fi
        rm -f "$file.stderr"
        printf '  %-8s r%s: %9.0f req/s  p50 %8.1f us  p99 %9.1f us  errors %s\n' "$pool" "$round" \
            "$(jq .rps "$file")" "$(jq .latency_us.p50 "$file")" "$(jq .latency_us.p99 "$file")" "$(jq .errors "$file")" >&2
    done
done
declare -A P=()
for pool in brickd glusterd; do
    files=("$OUT"/peer-list-"$pool"-r*.json)
    P[$pool.rps]=$(med_json .rps "${files[@]}")
    P[$pool.p50]=$(med_json .latency_us.p50 "${files[@]}")
    P[$pool.p99]=$(med_json .latency_us.p99 "${files[@]}")
    P[$pool.cpu]=$(med_json .req_per_server_cpu_s "${files[@]}")
    P[$pool.err]=$( [[ -e "${files[0]}" ]] && jq -s 'map(.errors) | add' "${files[@]}" || echo n/a)
done
rr=$(ratio "${P[brickd.rps]}" "${P[glusterd.rps]}")
rp=$(ratio "${P[brickd.p99]}" "${P[glusterd.p99]}")
echo >&2
echo "peer status (peer-list) at ${CONNS}x1 on node 1's unix socket, medians of $ROUNDS round(s)"
table "peer status ${CONNS}x1|glusterd|brickd|brickd/glusterd" \
    "requests/s|$(fmt0 "${P[glusterd.rps]}")|$(fmt0 "${P[brickd.rps]}")|$(fmt2 "$rr")" \
    "p50 us|$(fmt1 "${P[glusterd.p50]}")|$(fmt1 "${P[brickd.p50]}")|$(fmt2 "$(ratio "${P[brickd.p50]}" "${P[glusterd.p50]}")")" \
    "p99 us|$(fmt1 "${P[glusterd.p99]}")|$(fmt1 "${P[brickd.p99]}")|$(fmt2 "$rp")" \
    "requests per server CPU-s|$(fmt0 "${P[glusterd.cpu]}")|$(fmt0 "${P[brickd.cpu]}")|$(fmt2 "$(ratio "${P[brickd.cpu]}" "${P[glusterd.cpu]}")")" \
    "errors (all rounds)|${P[glusterd.err]}|${P[brickd.err]}|"

# ------------------------------------------------------------------------------------------
REJOIN="$OUT/rejoin.tsv"
printf 'pool\trejoin\tvolumes\tfirst_answer_ms\tlast_poll_start_ms\trejoined_ms\tpool_connected_ms\tpolls\n' >"$REJOIN"
echo "== rejoin: node 2 of each pool killed (SIGKILL) and restarted, $REJOINS time(s)" >&2
for r in $(seq "$REJOINS"); do
    for pool in $(order_of_round "$r"); do
        read -r _ victim _ <<<"$(pool_nodes "$pool")"
        want=${EXISTING[$pool]}
        kill -KILL "${PID[$victim]}"
        wait "${PID[$victim]}" 2>/dev/null || true
        # The others notice the closed connections at once; give them a moment to.
        sleep 1
        t0=$EPOCHREALTIME
        spawn "$victim"
        first_ms=""
        done_ms=""
        polls=0
        while :; do
            polls=$((polls + 1))
            tp=$EPOCHREALTIME
            kill -0 "${PID[$victim]}" 2>/dev/null || { echo "pool.sh: $pool $victim exited after its restart" >&2; exit 1; }
            out="$(cli "$victim" peer status 2>/dev/null)" && ok=1 || ok=0
            if (( ok )) && [[ -z "$first_ms" ]]; then
                first_ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
            fi
            if (( ok )) && [[ "$(grep -c '^State: Peer in Cluster (Connected)$' <<<"$out" || true)" == 2 ]] &&
                [[ "$(volume_count "$victim")" == "$want" ]]; then
                done_ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
                start_ms=$(awk -v a="$t0" -v b="$tp" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
                break
            fi
            if awk -v a="$t0" -v b="$EPOCHREALTIME" -v m="$REJOIN_TIMEOUT_S" 'BEGIN { exit !(b - a > m) }'; then
                echo "pool.sh: $pool $victim did not rejoin within ${REJOIN_TIMEOUT_S}s:" >&2
                cli "$victim" peer status >&2 || true
                exit 1
            fi
            sleep "$(awk -v m="$POLL_MS" 'BEGIN { printf "%.3f", m / 1000 }')"
        done
        wait_pool_connected "$pool" 300
        all_ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pool" "$r" "$want" "$first_ms" "$start_ms" "$done_ms" "$all_ms" "$polls" >>"$REJOIN"
        printf '  %-8s rejoin %s (%d volumes): answers after %8.1f ms, rejoined after %9.1f ms (that poll began at %9.1f; %d polls), every node connected after %9.1f ms\n' \
            "$pool" "$r" "$want" "$first_ms" "$done_ms" "$start_ms" "$polls" "$all_ms" >&2
    done
done
rjcol() { awk -F'\t' -v p="$1" -v c="$2" 'NR > 1 && $1 == p { print $c }' "$REJOIN"; }
declare -A RJ=()
for pool in brickd glusterd; do
    RJ[$pool.first]=$(rjcol "$pool" 4 | median)
    RJ[$pool.start]=$(rjcol "$pool" 5 | median)
    RJ[$pool.done]=$(rjcol "$pool" 6 | median)
    RJ[$pool.all]=$(rjcol "$pool" 7 | median)
    RJ[$pool.each]=$(rjcol "$pool" 6 | paste -sd' ')
done
r=$(ratio "${RJ[brickd.done]}" "${RJ[glusterd.done]}")
echo >&2
echo "rejoin of node 2 after SIGKILL, brickd ${EXISTING[brickd]} / glusterd ${EXISTING[glusterd]} volumes, ms (median of $REJOINS)"
table "rejoin, ms from restart|glusterd|brickd|brickd/glusterd" \
    "first CLI answer (peer status)|$(fmt1 "${RJ[glusterd.first]}")|$(fmt1 "${RJ[brickd.first]}")|$(fmt2 "$(ratio "${RJ[brickd.first]}" "${RJ[glusterd.first]}")")" \
    "rejoined: both peers connected and every volume listed, on it (end of the poll that saw it)|$(fmt1 "${RJ[glusterd.done]}")|$(fmt1 "${RJ[brickd.done]}")|$(fmt2 "$r")" \
    "  start of that poll (not seen before it; a poll the daemon does not answer lasts until the CLI's 120 s timeout)|$(fmt1 "${RJ[glusterd.start]}")|$(fmt1 "${RJ[brickd.start]}")|$(fmt2 "$(ratio "${RJ[brickd.start]}" "${RJ[glusterd.start]}")")" \
    "  each rejoin (end of poll)|${RJ[glusterd.each]}|${RJ[brickd.each]}|" \
    "every node of the pool shows both others connected|$(fmt1 "${RJ[glusterd.all]}")|$(fmt1 "${RJ[brickd.all]}")|$(fmt2 "$(ratio "${RJ[brickd.all]}" "${RJ[glusterd.all]}")")"
CHECKS+=("rejoin with ${EXISTING[brickd]} / ${EXISTING[glusterd]} volumes: brickd <= 1/10 of glusterd|$(check "$r" '<=' 0.1) ($(fmt2 "$r")x)")
CHECKS+=("peer status ${CONNS}x1 requests/s (no issue-18 target; compare.sh's CLI target is >= 10x)|$(check "$rr" '>=' 10) ($(fmt2 "$rr")x; p99 $(fmt2 "$rp")x)")
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

echo
for c in "${CHECKS[@]}"; do printf '%-100s %s\n' "${c%%|*}" "${c##*|}"; done
COMMAND="perf/pool.sh --volumes $VOLUMES --count $COUNT --filler-max-s $FILLER_MAX_S --rounds $ROUNDS --duration $DURATION --warmup $WARMUP --conns $CONNS --rejoins $REJOINS --poll-ms $POLL_MS"
[[ $BUILD == 1 ]] || COMMAND+=" --no-build"
[[ -z "$BRICKD_ARGS" ]] || COMMAND+=" --brickd-args \"$BRICKD_ARGS\""
{
    echo "## $START_UTC–$(date -u '+%H:%M') UTC: 3-node pools (issue 18), brickd vs glusterd $(glusterd --version | head -1 | awk '{print $2}')"
    echo
    echo "- command: \`$COMMAND\`"
    echo "- brickd: $REVISION, binary built $BRICKD_BUILT"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r), $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- load average $LOADAVG_START at start, $LOADAVG_END at end"
    echo "- brickd nodes on ${BA[*]}, glusterd nodes on ${GA[*]} (port 24007 each); pools formed in ${FORM_S[brickd]} s (brickd) and ${FORM_S[glusterd]} s (glusterd); one 2 GiB loop-device XFS per pool"
    for s in "${SECTIONS[@]}"; do echo; echo "$s"; done
    echo
    echo "| target | result |"
    echo "|---|---|"
    for c in "${CHECKS[@]}"; do echo "| ${c%%|*} | ${c##*|} |"; done
} >"$OUT/summary.md"
echo >&2
echo "markdown: $OUT/summary.md; raw: $OUT" >&2
if (( FAILURES > 0 )); then
    echo "pool.sh: $FAILURES run(s) failed; they are left out of the medians" >&2
    exit 1
fi
