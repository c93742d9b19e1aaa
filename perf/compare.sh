#!/usr/bin/env bash
# compare.sh — brickd against a private glusterd, same machine, same load generator.
#
# Starts a private glusterd (own volfile, workdir, run directory, unix socket and TCP port; the
# system glusterd, if any, is never touched) and brickd on a temporary workdir, then runs each
# workload against both, interleaved (rounds alternate which server goes first: G B, B G, G B…),
# and reports the median of the rounds: requests/s, requests per server CPU-second (from
# /proc/PID/stat over the measured window) and p50 latency. Both daemons are stopped on exit,
# whatever happens.
#
# Usage: perf/compare.sh [--rounds N] [--duration S] [--warmup S] [--transport tcp|unix]
#                        [--glusterd-port P] [--brickd-port P] [--out DIR] [--glusterd-only]
#                        [--brickd-args "FLAGS"]   (extra `brickd serve` flags, e.g. "--shards 1")
#                        [--keep-workdir]
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
OUT=""
GLUSTERD_ONLY=0
KEEP_WORKDIR=0
# Workloads: name, connections, depth.
WORKLOADS=("ping 4 16" "ping 16 1" "ping 1 1" "null 1 1")
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
        --out) OUT="$2"; shift 2 ;;
        --glusterd-only) GLUSTERD_ONLY=1; shift ;;
        --keep-workdir) KEEP_WORKDIR=1; shift ;;
        --brickd-args) BRICKD_ARGS="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "compare.sh: unknown option $1" >&2; usage 2 >&2 ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --rounds must be a positive integer" >&2; exit 2; }
[[ "$TRANSPORT" == tcp || "$TRANSPORT" == unix ]] || { echo "compare.sh: --transport is tcp or unix" >&2; exit 2; }
# shellcheck source=../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
ensure_packages glusterfs-server jq iproute2 gawk
for tool in glusterd jq ss awk; do
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
else
    cargo build --release -p brickd-perf -p brickd >&2
fi
LOAD="$ROOT/target/release/brickd-load"
BRICKD="$ROOT/target/release/brickd"

WORK="$(mktemp -d /tmp/brickd-compare.XXXXXX)"
GD_PID=""
BD_PID=""

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
    stop_pid "$BD_PID" brickd
    stop_pid "$GD_PID" glusterd
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

start_glusterd() {
    port_free "$GD_PORT" || { echo "compare.sh: port $GD_PORT is taken; pick another with --glusterd-port" >&2; exit 1; }
    mkdir -p "$WORK/gd/lib" "$WORK/gd/run"
    cat >"$WORK/gd/glusterd.vol" <<EOF
volume management
    type mgmt/glusterd
    option working-directory $WORK/gd/lib
    option run-directory $WORK/gd/run
    option glusterd-sockfile $WORK/gd/run/glusterd.socket
    option transport-type socket
    option transport.socket.listen-port $GD_PORT
    option ping-timeout 0
    option event-threads 1
end-volume
EOF
    glusterd -N -f "$WORK/gd/glusterd.vol" -p "$WORK/gd/run/glusterd.pid" -l "$WORK/gd/glusterd.log" \
        >"$WORK/gd/stdout.log" 2>&1 &
    GD_PID=$!
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "$GD_PID" 2>/dev/null || { echo "compare.sh: glusterd exited; see $WORK/gd/glusterd.log" >&2; exit 1; }
        if tcp_listening "$GD_PORT" && [[ -S "$WORK/gd/run/glusterd.socket" ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "compare.sh: glusterd did not listen on $GD_PORT within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

start_brickd() {
    port_free "$BD_PORT" || { echo "compare.sh: port $BD_PORT is taken; pick another with --brickd-port" >&2; exit 1; }
    mkdir -p "$WORK/bd"
    # shellcheck disable=SC2086 # BRICKD_ARGS is a list of words on purpose
    "$BRICKD" serve --workdir "$WORK/bd" --socket "$WORK/bd/brickd.socket" --listen "127.0.0.1:$BD_PORT" \
        $BRICKD_ARGS >"$WORK/bd/brickd.log" 2>&1 &
    BD_PID=$!
    for _ in $(seq $((READY_TIMEOUT_S * 10))); do
        kill -0 "$BD_PID" 2>/dev/null || { echo "compare.sh: brickd exited; see $WORK/bd/brickd.log:" >&2; tail -5 "$WORK/bd/brickd.log" >&2; exit 1; }
        grep -q ready "$WORK/bd/brickd.log" && return 0
        sleep 0.1
    done
    echo "compare.sh: brickd printed no 'ready' line within ${READY_TIMEOUT_S}s" >&2
    exit 1
}

target_of() { # server
    case "$1/$TRANSPORT" in
        glusterd/tcp) echo "tcp:127.0.0.1:$GD_PORT" ;;
        glusterd/unix) echo "unix:$WORK/gd/run/glusterd.socket" ;;
        brickd/tcp) echo "tcp:127.0.0.1:$BD_PORT" ;;
        brickd/unix) echo "unix:$WORK/bd/brickd.socket" ;;
    esac
}

# A server may listen before it answers (glusterd takes a few seconds after opening its port):
# wait until one PING comes back.
wait_answering() { # server
    for _ in $(seq $((READY_TIMEOUT_S * 5))); do
        "$LOAD" --target "$(target_of "$1")" --workload ping --duration 0.2 --warmup 0 --json >/dev/null 2>&1 && return 0
    done
    echo "compare.sh: $1 does not answer PING within about ${READY_TIMEOUT_S}s" >&2
    exit 1
}

pid_of() { # server
    if [[ $1 == glusterd ]]; then echo "$GD_PID"; else echo "$BD_PID"; fi
}

run_one() { # server workload conns depth round
    local server="$1" workload="$2" conns="$3" depth="$4" round="$5"
    local file="$OUT/$workload-${conns}x$depth-$server-r$round.json"
    local rc=0
    "$LOAD" --target "$(target_of "$server")" --workload "$workload" --conns "$conns" --depth "$depth" \
        --duration "$DURATION" --warmup "$WARMUP" --server-pid "$(pid_of "$server")" --json \
        >"$file" 2>"$file.stderr" || rc=$?
    if [[ $rc != 0 || ! -s "$file" ]]; then
        echo "compare.sh: $server $workload ${conns}x$depth round $round failed (exit $rc): $(cat "$file.stderr"); output kept in $file.failed" >&2
        mv "$file" "$file.failed" 2>/dev/null || true
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    rm -f "$file.stderr"
    printf '  %-8s %-5s %3sx%-3s r%s: %10.0f req/s  p50 %7.1f us  errors %s\n' "$server" "$workload" "$conns" "$depth" "$round" \
        "$(jq .rps "$file")" "$(jq '.latency_us.p50' "$file")" "$(jq .errors "$file")" >&2
}

# Median of the numbers on stdin ("n/a" when there are none).
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        if (NR % 2) { print v[(NR + 1) / 2] } else { print (v[NR / 2] + v[NR / 2 + 1]) / 2 }
    }'
}

# Median of a jq expression over the rounds of one server and workload.
median_of() { # server workload conns depth jq-expr
    local files=("$OUT/$2-$3x$4-$1-r"*.json)
    [[ -e "${files[0]}" ]] || { echo n/a; return; }
    jq -r "$5 // empty" "${files[@]}" | median
}

errors_sum() { # server workload conns depth
    local files=("$OUT/$2-$3x$4-$1-r"*.json)
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

LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== starting private glusterd on port $GD_PORT (workdir $WORK/gd)" >&2
start_glusterd
wait_answering glusterd
SERVERS=(glusterd)
if [[ $GLUSTERD_ONLY == 0 ]]; then
    echo "== starting brickd on port $BD_PORT (workdir $WORK/bd)" >&2
    start_brickd
    wait_answering brickd
    SERVERS=(glusterd brickd)
fi
FAILURES=0

for round in $(seq "$ROUNDS"); do
    echo "== round $round of $ROUNDS" >&2
    order=("${SERVERS[@]}")
    if (( round % 2 == 0 && ${#SERVERS[@]} == 2 )); then
        order=(brickd glusterd)
    fi
    for spec in "${WORKLOADS[@]}"; do
        read -r workload conns depth <<<"$spec"
        for server in "${order[@]}"; do
            run_one "$server" "$workload" "$conns" "$depth" "$round"
        done
    done
done
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

declare -a ROWS CHECKS
for spec in "${WORKLOADS[@]}"; do
    read -r workload conns depth <<<"$spec"
    g_rps=$(median_of glusterd "$workload" "$conns" "$depth" .rps)
    b_rps=$(median_of brickd "$workload" "$conns" "$depth" .rps)
    g_cpu=$(median_of glusterd "$workload" "$conns" "$depth" .req_per_server_cpu_s)
    b_cpu=$(median_of brickd "$workload" "$conns" "$depth" .req_per_server_cpu_s)
    g_p50=$(median_of glusterd "$workload" "$conns" "$depth" .latency_us.p50)
    b_p50=$(median_of brickd "$workload" "$conns" "$depth" .latency_us.p50)
    g_err=$(errors_sum glusterd "$workload" "$conns" "$depth")
    b_err=$(errors_sum brickd "$workload" "$conns" "$depth")
    ROWS+=("$workload ${conns}x$depth|$(fmt0 "$g_rps")|$(fmt0 "$b_rps")|$(ratio "$b_rps" "$g_rps")|$(fmt0 "$g_cpu")|$(fmt0 "$b_cpu")|$(ratio "$b_cpu" "$g_cpu")|$(fmt1 "$g_p50")|$(fmt1 "$b_p50")|$g_err / $b_err")
    case "$workload ${conns}x$depth" in
        "ping 4x16")
            CHECKS+=("ping 4x16: brickd req/s >= 5x glusterd|$(check "$(ratio "$b_rps" "$g_rps")" '>=' 5)") ;;
        "ping 16x1")
            CHECKS+=("ping 16x1: brickd req/s >= glusterd|$(check "$(ratio "$b_rps" "$g_rps")" '>=' 1)")
            CHECKS+=("ping 16x1: brickd req per server CPU-s >= 2x glusterd|$(check "$(ratio "$b_cpu" "$g_cpu")" '>=' 2)") ;;
        "ping 1x1")
            CHECKS+=("ping 1x1: brickd p50 latency <= glusterd|$(check "$b_p50" '<=' "$g_p50")") ;;
    esac
done

HEADER="workload|glusterd req/s|brickd req/s|ratio|glusterd req/CPU-s|brickd req/CPU-s|ratio|glusterd p50 us|brickd p50 us|errors g / b"
COMMAND="perf/compare.sh --rounds $ROUNDS --duration $DURATION --warmup $WARMUP --transport $TRANSPORT"
[[ $GLUSTERD_ONLY == 0 ]] || COMMAND+=" --glusterd-only"
REVISION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]] || REVISION+=" (with uncommitted changes)"

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
    echo "- medians of $ROUNDS interleaved round(s) (G B, B G, …), ${DURATION}s measured after ${WARMUP}s warm-up, transport $TRANSPORT"
    echo
    echo "| ${HEADER//|/ | } |"
    echo "|$(printf '%s' "$HEADER" | awk -F'|' '{ for (i = 1; i <= NF; i++) printf (i == 1 ? "---|" : "---:|") }')"
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
