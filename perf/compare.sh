#!/usr/bin/env bash
# compare.sh — brickd against a private glusterd, same machine, same load generator.
#
# Starts a private glusterd (own volfile, workdir, run directory, unix socket and TCP port; the
# system glusterd, if any, is never touched) and brickd on a temporary workdir, then runs each
# workload against both, interleaved (rounds alternate which server goes first: G B, B G, G B…),
# and reports the median of the rounds: requests/s, requests per server CPU-second (from
# /proc/PID/stat over the measured window) and p50/p99 latency. The daemons are stopped on exit,
# whatever happens.
#
# Default: DUMP ping and null against both, on empty workdirs, and against an echo server
# (perf/src/bin/echo-server.rs: one epoll thread answering every record with a fixed PING reply,
# no work at all), the floor under both daemons on this machine.
# --cli: the CLI's `peer status` (peer-list) and `volume info vol0007` (vol-info:vol0007)
#   instead, against two glusterd+brickd pairs running side by side, each daemon on its own
#   copy of a workdir written by make-workdir (perf/src/bin/make-workdir.rs): pair "one" has
#   only vol0007 and --peers peers, pair "many" has --volumes volumes (vol0000…) and the same
#   peers. Pair "one" uses --glusterd-port and --brickd-port, pair "many" those ports + 2.
#   Before measuring, the real `gluster` CLI (when installed) must get `volume info vol0007`
#   from every daemon over its unix socket.
#
# Usage: perf/compare.sh [--rounds N] [--duration S] [--warmup S] [--transport tcp|unix]
#                        [--glusterd-port P] [--brickd-port P] [--echo-port P] [--out DIR]
#                        [--glusterd-only] [--no-echo]
#                        [--brickd-args "FLAGS"]   (extra `brickd serve` flags, e.g. "--shards 1")
#                        [--keep-workdir]
#                        [--cli [--volumes N] [--peers P]]   (N default 1000, P default 3)
#
# Output: a text table on stdout; DIR/summary.md (markdown, ready for perf/RESULTS.md) and one
# JSON file per run in DIR (default target/perf/compare-DATE).
set -euo pipefail

ROUNDS=3
DURATION=10
WARMUP=1
TRANSPORT=tcp
GD_PORT=24410
BD_PORT=24411
ECHO_PORT=24420
ECHO=1
OUT=""
GLUSTERD_ONLY=0
KEEP_WORKDIR=0
CLI=0
CLI_VOLUMES=1000
CLI_PEERS=3
# The volume the CLI workloads ask for; it exists in both CLI workdirs.
CLI_VOLUME=vol0007
# Workloads: workdir set, name, connections, depth. Sets: "empty" (empty workdirs); with --cli
# "one" (vol0007 only) and "many" (--volumes volumes).
WORKLOADS=("empty ping 4 16" "empty ping 16 1" "empty ping 1 1" "empty null 1 1")
CLI_WORKLOADS=(
    "one peer-list 16 1"
    "one peer-list 1 1"
    "one vol-info:$CLI_VOLUME 16 1"
    "many vol-info:$CLI_VOLUME 16 1"
    "one vol-info:$CLI_VOLUME 1 1"
    "many vol-info:$CLI_VOLUME 1 1"
)
READY_TIMEOUT_S=30
BRICKD_ARGS=""

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --transport) TRANSPORT="$2"; shift 2 ;;
        --glusterd-port) GD_PORT="$2"; shift 2 ;;
        --brickd-port) BD_PORT="$2"; shift 2 ;;
        --echo-port) ECHO_PORT="$2"; shift 2 ;;
        --no-echo) ECHO=0; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --glusterd-only) GLUSTERD_ONLY=1; shift ;;
        --keep-workdir) KEEP_WORKDIR=1; shift ;;
        --brickd-args) BRICKD_ARGS="$2"; shift 2 ;;
        --cli) CLI=1; shift ;;
        --volumes) CLI_VOLUMES="$2"; shift 2 ;;
        --peers) CLI_PEERS="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "compare.sh: unknown option $1" >&2; usage 2 >&2 ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --rounds must be a positive integer" >&2; exit 2; }
[[ "$TRANSPORT" == tcp || "$TRANSPORT" == unix ]] || { echo "compare.sh: --transport is tcp or unix" >&2; exit 2; }
if ! [[ "$CLI_VOLUMES" =~ ^[0-9]+$ ]] || (( CLI_VOLUMES <= 7 )); then
    echo "compare.sh: --volumes must be a number above 7 (vol0007 must exist)" >&2
    exit 2
fi
[[ "$CLI_PEERS" =~ ^[0-9]+$ ]] || { echo "compare.sh: --peers must be a number" >&2; exit 2; }
if [[ $CLI == 1 ]]; then
    WORKLOADS=("${CLI_WORKLOADS[@]}")
    SETS=(one many)
else
    SETS=(empty)
fi
# shellcheck source=../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
# column (the table) is in bsdextrautils.
ensure_packages glusterfs-server jq iproute2 gawk bsdextrautils
for tool in glusterd jq ss awk column; do
    command -v "$tool" >/dev/null || { echo "compare.sh: $tool is not installed" >&2; exit 2; }
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="${OUT:-$ROOT/target/perf/compare-$STAMP}"
mkdir -p "$OUT"

echo "== building (release)" >&2
if [[ $GLUSTERD_ONLY == 1 ]]; then
    cargo build --release -p brickd-perf >&2
    ECHO=0
else
    cargo build --release -p brickd-perf -p brickd >&2
fi
# What was built (taken now: the tree may change while the runs go on).
REVISION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]] || REVISION+=" (with uncommitted changes)"
LOAD="$ROOT/target/release/brickd-load"
MAKE_WORKDIR="$ROOT/target/release/make-workdir"
ECHO_SERVER="$ROOT/target/release/echo-server"
BRICKD="$ROOT/target/release/brickd"

WORK="$(mktemp -d /tmp/brickd-compare.XXXXXX)"
# Per daemon, keyed "server/set": its pid, TCP port and directory.
declare -A PIDS PORTS DIRS

stop_pid() { # pid name
    local pid="$1" name="$2"
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "compare.sh: $name (pid $pid) ignored SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    local key
    for key in "${!PIDS[@]}"; do
        stop_pid "${PIDS[$key]}" "$key"
    done
    if [[ $KEEP_WORKDIR == 1 || $status != 0 ]]; then
        echo "compare.sh: daemon logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() {
    [[ -z "$(ss -Hltn "( sport = :$1 )")" ]]
}

tcp_listening() { # port
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A set's workdir: empty, or a copy of the one make-workdir wrote for it.
seed_workdir() { # set dir
    mkdir -p "$2"
    [[ $1 == empty ]] || cp -a "$WORK/seed-$1/." "$2/"
}

start_glusterd() { # set
    local set="$1" port="${PORTS[glusterd/$1]}" dir="$WORK/gd-$1"
    port_free "$port" || { echo "compare.sh: port $port is taken; pick another with --glusterd-port" >&2; exit 1; }
    DIRS[glusterd/$set]="$dir"
    mkdir -p "$dir/run"
    seed_workdir "$set" "$dir/lib"
    # keepalive-time and -interval as in Debian's /etc/glusterfs/glusterd.vol: without them
    # glusterd fails to start on a workdir with peers (building a peer's transport options
    # returns an error).
    cat >"$dir/glusterd.vol" <<EOF
volume management
    type mgmt/glusterd
    option working-directory $dir/lib
    option run-directory $dir/run
    option glusterd-sockfile $dir/run/glusterd.socket
    option transport-type socket
    option transport.socket.listen-port $port
    option transport.socket.keepalive-time 10
    option transport.socket.keepalive-interval 2
    option ping-timeout 0
    option event-threads 1
end-volume
EOF
    glusterd -N -f "$dir/glusterd.vol" -p "$dir/run/glusterd.pid" -l "$dir/glusterd.log" \
        >"$dir/stdout.log" 2>&1 &
    PIDS[glusterd/$set]=$!
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "${PIDS[glusterd/$set]}" 2>/dev/null || { echo "compare.sh: glusterd ($set) exited; see $dir/glusterd.log" >&2; exit 1; }
        if tcp_listening "$port" && [[ -S "$dir/run/glusterd.socket" ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "compare.sh: glusterd ($set) did not listen on $port within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

start_brickd() { # set
    local set="$1" port="${PORTS[brickd/$1]}" dir="$WORK/bd-$1"
    port_free "$port" || { echo "compare.sh: port $port is taken; pick another with --brickd-port" >&2; exit 1; }
    DIRS[brickd/$set]="$dir"
    seed_workdir "$set" "$dir"
    # shellcheck disable=SC2086 # BRICKD_ARGS is a list of words on purpose
    "$BRICKD" serve --workdir "$dir" --socket "$dir/brickd.socket" --listen "127.0.0.1:$port" \
        $BRICKD_ARGS >"$dir/brickd.log" 2>&1 &
    PIDS[brickd/$set]=$!
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "${PIDS[brickd/$set]}" 2>/dev/null || { echo "compare.sh: brickd ($set) exited; see $dir/brickd.log:" >&2; tail -5 "$dir/brickd.log" >&2; exit 1; }
        grep -q '^brickd ready' "$dir/brickd.log" && return 0
        sleep 0.1
    done
    echo "compare.sh: brickd ($set) printed no 'ready' line within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

start_echo() {
    local dir="$WORK/echo"
    port_free "$ECHO_PORT" || { echo "compare.sh: port $ECHO_PORT is taken; pick another with --echo-port" >&2; exit 1; }
    DIRS[echo/empty]="$dir"
    PORTS[echo/empty]="$ECHO_PORT"
    mkdir -p "$dir"
    "$ECHO_SERVER" --listen "127.0.0.1:$ECHO_PORT" >"$dir/echo.log" 2>&1 &
    PIDS[echo/empty]=$!
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "${PIDS[echo/empty]}" 2>/dev/null || { echo "compare.sh: echo-server exited; see $dir/echo.log" >&2; exit 1; }
        grep -q '^echo-server ready' "$dir/echo.log" && return 0
        sleep 0.1
    done
    echo "compare.sh: echo-server printed no ready line within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

socket_of() { # server set
    if [[ $1 == glusterd ]]; then
        echo "${DIRS[$1/$2]}/run/glusterd.socket"
    else
        echo "${DIRS[$1/$2]}/brickd.socket"
    fi
}

target_of() { # server set
    if [[ $TRANSPORT == tcp ]]; then
        echo "tcp:127.0.0.1:${PORTS[$1/$2]}"
    else
        echo "unix:$(socket_of "$1" "$2")"
    fi
}

# A server may listen before it answers (glusterd takes a few seconds after opening its port):
# wait until one PING comes back.
wait_answering() { # server set
    for _ in $(seq $((READY_TIMEOUT_S * 5))); do
        "$LOAD" --target "$(target_of "$1" "$2")" --workload ping --duration 0.2 --warmup 0 --json >/dev/null 2>&1 && return 0
    done
    echo "compare.sh: $1 ($2) does not answer PING within about ${READY_TIMEOUT_S}s" >&2
    exit 1
}

# The real CLI must read the volume from the daemon: the generated workdir was loaded.
check_cli_volume_info() { # server set
    if ! command -v gluster >/dev/null; then
        echo "compare.sh: the gluster CLI is not installed; $1 ($2) not checked with it" >&2
        return 0
    fi
    local out
    if ! out="$(timeout 30 gluster --glusterd-sock="$(socket_of "$1" "$2")" --mode=script volume info "$CLI_VOLUME" 2>&1)" \
        || ! grep -q "^Volume Name: $CLI_VOLUME\$" <<<"$out"; then
        echo "compare.sh: gluster volume info $CLI_VOLUME against $1 ($2) failed:" >&2
        echo "$out" >&2
        exit 1
    fi
}

# A workload name as part of a file name (vol-info:vol0007 -> vol-info_vol0007).
slug() { echo "${1//[^A-Za-z0-9_-]/_}"; }

run_one() { # server set workload conns depth round
    local server="$1" set="$2" workload="$3" conns="$4" depth="$5" round="$6"
    local file
    file="$OUT/$set-$(slug "$workload")-${conns}x$depth-$server-r$round.json"
    local rc=0
    "$LOAD" --target "$(target_of "$server" "$set")" --workload "$workload" --conns "$conns" --depth "$depth" \
        --duration "$DURATION" --warmup "$WARMUP" --server-pid "${PIDS[$server/$set]}" --json \
        >"$file" 2>"$file.stderr" || rc=$?
    if [[ $rc != 0 || ! -s "$file" ]]; then
        echo "compare.sh: $server ($set) $workload ${conns}x$depth round $round failed (exit $rc): $(cat "$file.stderr"); output kept in $file.failed" >&2
        mv "$file" "$file.failed" 2>/dev/null || true
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    rm -f "$file.stderr"
    printf '  %-8s %-5s %-16s %3sx%-3s r%s: %10.0f req/s  p50 %7.1f us  p99 %8.1f us  errors %s\n' \
        "$server" "$set" "$workload" "$conns" "$depth" "$round" \
        "$(jq .rps "$file")" "$(jq '.latency_us.p50' "$file")" "$(jq '.latency_us.p99' "$file")" "$(jq .errors "$file")" >&2
}

# Median of the numbers on stdin ("n/a" when there are none).
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        if (NR % 2) { print v[(NR + 1) / 2] } else { print (v[NR / 2] + v[NR / 2 + 1]) / 2 }
    }'
}

# Median of a jq expression over the rounds of one server, set and workload.
median_of() { # server set workload conns depth jq-expr
    local files=("$OUT/$2-$(slug "$3")-$4x$5-$1-r"*.json)
    [[ -e "${files[0]}" ]] || { echo n/a; return; }
    jq -r "$6 // empty" "${files[@]}" | median
}

errors_sum() { # server set workload conns depth
    local files=("$OUT/$2-$(slug "$3")-$4x$5-$1-r"*.json)
    [[ -e "${files[0]}" ]] || { echo n/a; return; }
    jq -s 'map(.errors) | add' "${files[@]}"
}

ratio() { # numerator denominator
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

fmt0() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.0f", v }'; }
fmt1() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.1f", v }'; }

# A target check: PASS, FAIL or n/a.
check() { # value op threshold
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "n/a" || t == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0)
        print ok ? "PASS" : "FAIL"
    }'
}

# What a set's workdir holds, for the table.
describe_set() { # set
    case "$1" in
        empty) echo "empty" ;;
        one) echo "1 volume, $CLI_PEERS peers" ;;
        many) echo "$CLI_VOLUMES volumes, $CLI_PEERS peers" ;;
    esac
}

if [[ $CLI == 1 ]]; then
    echo "== writing workdirs: $CLI_VOLUME only, and $CLI_VOLUMES volumes; $CLI_PEERS peers each" >&2
    "$MAKE_WORKDIR" --out "$WORK/seed-one" --volumes 1 --first 7 --peers "$CLI_PEERS" >&2
    "$MAKE_WORKDIR" --out "$WORK/seed-many" --volumes "$CLI_VOLUMES" --peers "$CLI_PEERS" >&2
fi

LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
SERVERS=(glusterd)
[[ $GLUSTERD_ONLY == 1 ]] || SERVERS=(glusterd brickd)
offset=0
for set in "${SETS[@]}"; do
    PORTS[glusterd/$set]=$((GD_PORT + offset))
    PORTS[brickd/$set]=$((BD_PORT + offset))
    offset=$((offset + 2))
    echo "== starting private glusterd ($set: $(describe_set "$set")) on port ${PORTS[glusterd/$set]}" >&2
    start_glusterd "$set"
    wait_answering glusterd "$set"
    if [[ $GLUSTERD_ONLY == 0 ]]; then
        echo "== starting brickd ($set: $(describe_set "$set")) on port ${PORTS[brickd/$set]}" >&2
        start_brickd "$set"
        wait_answering brickd "$set"
    fi
    if [[ $CLI == 1 ]]; then
        for server in "${SERVERS[@]}"; do
            check_cli_volume_info "$server" "$set"
        done
    fi
done
# The echo server answers the DUMP workloads on the empty set, over TCP.
[[ $CLI == 0 && $TRANSPORT == tcp ]] || ECHO=0
if [[ $ECHO == 1 ]]; then
    echo "== starting echo-server on port $ECHO_PORT" >&2
    start_echo
    wait_answering echo empty
fi
FAILURES=0

for round in $(seq "$ROUNDS"); do
    echo "== round $round of $ROUNDS" >&2
    servers=("${SERVERS[@]}")
    [[ $ECHO == 0 ]] || servers+=(echo)
    # Each round starts with the next server: G B E, B E G, E G B, …
    shift_by=$(( (round - 1) % ${#servers[@]} ))
    order=("${servers[@]:$shift_by}" "${servers[@]:0:$shift_by}")
    for spec in "${WORKLOADS[@]}"; do
        read -r set workload conns depth <<<"$spec"
        for server in "${order[@]}"; do
            # The echo server's fixed reply is PING's.
            [[ $server != echo || $workload == ping ]] || continue
            run_one "$server" "$set" "$workload" "$conns" "$depth" "$round"
        done
    done
done
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

declare -a ROWS CHECKS
declare -A B_P99
for spec in "${WORKLOADS[@]}"; do
    read -r set workload conns depth <<<"$spec"
    med() { median_of "$1" "$set" "$workload" "$conns" "$depth" "$2"; }
    g_rps=$(med glusterd .rps)
    b_rps=$(med brickd .rps)
    g_cpu=$(med glusterd .req_per_server_cpu_s)
    b_cpu=$(med brickd .req_per_server_cpu_s)
    g_p50=$(med glusterd .latency_us.p50)
    b_p50=$(med brickd .latency_us.p50)
    g_p99=$(med glusterd .latency_us.p99)
    b_p99=$(med brickd .latency_us.p99)
    B_P99[$workload/${conns}x$depth/$set]="$b_p99"
    g_err=$(errors_sum glusterd "$set" "$workload" "$conns" "$depth")
    b_err=$(errors_sum brickd "$set" "$workload" "$conns" "$depth")
    e_rps=$(med echo .rps)
    e_p50=$(med echo .latency_us.p50)
    e_p99=$(med echo .latency_us.p99)
    rps_ratio=$(ratio "$b_rps" "$g_rps")
    cpu_ratio=$(ratio "$b_cpu" "$g_cpu")
    echo_ratio=$(ratio "$b_rps" "$e_rps")
    ROWS+=("$workload ${conns}x$depth|$(describe_set "$set")|$(fmt0 "$g_rps")|$(fmt0 "$b_rps")|$rps_ratio|$(fmt0 "$e_rps")|$echo_ratio|$(fmt0 "$g_cpu")|$(fmt0 "$b_cpu")|$cpu_ratio|$(fmt1 "$g_p50")|$(fmt1 "$b_p50")|$(fmt1 "$e_p50")|$(fmt1 "$g_p99")|$(fmt1 "$b_p99")|$(fmt1 "$e_p99")|$g_err / $b_err")
    case "$workload ${conns}x$depth" in
        "ping 4x16")
            CHECKS+=("ping 4x16: brickd req/s >= 5x glusterd|$(check "$rps_ratio" '>=' 5) (${rps_ratio}x)")
            CHECKS+=("ping 4x16: brickd req/s >= 0.85x the echo server|$(check "$echo_ratio" '>=' 0.85) (${echo_ratio}x)") ;;
        "ping 16x1")
            CHECKS+=("ping 16x1: brickd req/s >= glusterd|$(check "$rps_ratio" '>=' 1) (${rps_ratio}x)")
            CHECKS+=("ping 16x1: brickd req per server CPU-s >= 2x glusterd|$(check "$cpu_ratio" '>=' 2) (${cpu_ratio}x)") ;;
        "ping 1x1")
            CHECKS+=("ping 1x1: brickd p50 latency <= glusterd|$(check "$b_p50" '<=' "$g_p50") ($(fmt1 "$b_p50") vs $(fmt1 "$g_p50") us)") ;;
        "peer-list 16x1" | "vol-info:$CLI_VOLUME 16x1")
            CHECKS+=("$workload 16x1, $(describe_set "$set"): brickd req/s >= 10x glusterd|$(check "$rps_ratio" '>=' 10) (${rps_ratio}x)") ;;
    esac
done
if [[ $CLI == 1 ]]; then
    for shape in 16x1 1x1; do
        one="${B_P99[vol-info:$CLI_VOLUME/$shape/one]:-n/a}"
        many="${B_P99[vol-info:$CLI_VOLUME/$shape/many]:-n/a}"
        limit=$(awk -v v="$one" 'BEGIN { if (v == "n/a") print "n/a"; else print 2 * v }')
        CHECKS+=("vol-info $shape: brickd p99 with $CLI_VOLUMES volumes <= 2x its p99 with 1|$(check "$many" '<=' "$limit") ($(fmt1 "$many") vs $(fmt1 "$one") us, $(ratio "$many" "$one")x)")
    done
fi

HEADER="workload|workdir|glusterd req/s|brickd req/s|ratio|echo req/s|brickd/echo|glusterd req/CPU-s|brickd req/CPU-s|ratio|glusterd p50 us|brickd p50 us|echo p50 us|glusterd p99 us|brickd p99 us|echo p99 us|errors g / b"
COMMAND="perf/compare.sh --rounds $ROUNDS --duration $DURATION --warmup $WARMUP --transport $TRANSPORT"
[[ $GLUSTERD_ONLY == 0 ]] || COMMAND+=" --glusterd-only"
[[ $ECHO == 1 || $CLI == 1 || $GLUSTERD_ONLY == 1 ]] || COMMAND+=" --no-echo"
[[ $CLI == 0 ]] || COMMAND+=" --cli --volumes $CLI_VOLUMES --peers $CLI_PEERS"
[[ -z "$BRICKD_ARGS" ]] || COMMAND+=" --brickd-args \"$BRICKD_ARGS\""

{
    echo
    echo "medians of $ROUNDS round(s), ${DURATION}s measured each, transport $TRANSPORT; load average $LOADAVG_START at start, $LOADAVG_END at end"
    echo
    { echo "$HEADER"; printf '%s\n' "${ROWS[@]}"; } | column -t -s '|'
    echo
    for c in "${CHECKS[@]}"; do printf '%-60s %s\n' "${c%%|*}" "${c##*|}"; done
}

{
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC'): brickd vs glusterd $(glusterd --version | head -1 | awk '{print $2}')"
    echo
    echo "- command: \`$COMMAND\`"
    echo "- brickd: $REVISION"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
    echo "- load average $LOADAVG_START at start, $LOADAVG_END at end"
    echo "- medians of $ROUNDS interleaved round(s) (each round starts with the next server), ${DURATION}s measured after ${WARMUP}s warm-up, transport $TRANSPORT"
    [[ $ECHO == 0 ]] || echo "- echo: perf/src/bin/echo-server.rs, one epoll thread answering every record with a fixed PING reply (no work)"
    echo
    echo "| ${HEADER//|/ | } |"
    echo "|$(printf '%s' "$HEADER" | awk -F'|' '{ for (i = 1; i <= NF; i++) printf (i <= 2 ? "---|" : "---:|") }')"
    for row in "${ROWS[@]}"; do echo "| ${row//|/ | } |"; done
    echo
    echo "| target | result |"
    echo "|---|---|"
    for c in "${CHECKS[@]}"; do echo "| ${c%%|*} | ${c##*|} |"; done
} >"$OUT/summary.md"
echo >&2
echo "markdown: $OUT/summary.md; raw runs: $OUT/*.json" >&2
if (( FAILURES > 0 )); then
    echo "compare.sh: $FAILURES run(s) failed; they are left out of the medians" >&2
    exit 1
fi
