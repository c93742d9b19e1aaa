#!/usr/bin/env bash
# Builds brickd and starts it on a self-contained default under ./local: its own workdir, unix
# socket and TCP port 24507, so it never clashes with a real glusterd. Installs what it needs
# (as root on Debian 12: a C linker, the gluster CLI with its socket transport, and a Rust
# toolchain new enough for the lockfile). Before it says ready it runs the `gluster` command it
# prints, and fails with the CLI's own log line if that gets no answer.
#
#   scripts/run.sh                 build, start in the background, check, print how to use it
#   scripts/run.sh --foreground    build and serve in this terminal (Ctrl-C stops it)
#   scripts/run.sh --stop          stop the background brickd (SIGTERM, then SIGKILL)
#
# Brick processes' pid files, logs and sockets go under ./local too (run/, log/, sockets/).
# To serve files: create and start a volume on an XFS directory, then mount it (the client
# package, glusterfs-client, is installed too):
#   mkdir -p /bricks/b1 /mnt/v1     (an XFS file system mounted there is best; force takes any)
#   gluster --glusterd-sock=local/brickd.socket --mode=script volume create v1 $(hostname):/bricks/b1/v1 force
#   gluster --glusterd-sock=local/brickd.socket --mode=script volume start v1
#   mount -t glusterfs -o server-port=24507 $(hostname):/v1 /mnt/v1
#
# Environment: BRICKD_LISTEN (default 0.0.0.0:24507: every address, as glusterd, so that the
# host name a brick or a client is given reaches it), BRICKD_HOME (default ./local),
# BRICKD_STOP_WAIT_S (seconds --stop waits after SIGTERM before SIGKILL, default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

home=${BRICKD_HOME:-$PWD/local}
listen=${BRICKD_LISTEN:-0.0.0.0:24507}
pidfile=$home/brickd.pid
# Seconds a stop waits after SIGTERM (brickd drains calls in flight) before SIGKILL.
STOP_TERM_WAIT_S=${BRICKD_STOP_WAIT_S:-10}
# Seconds the ready check's `peer status` may take (the CLI's own timeout is 120 s).
CHECK_TIMEOUT_S=30

# True while process $1 runs (an exited one not yet reaped, a zombie, does not count).
alive() { kill -0 "$1" 2>/dev/null && ! grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat" 2>/dev/null; }

# Waits up to $2 seconds for process $1 to exit; true if it did.
wait_gone() {
    local pid=$1 tenths=$(($2 * 10))
    while [ "$tenths" -gt 0 ]; do
        alive "$pid" || return 0
        sleep 0.1
        tenths=$((tenths - 1))
    done
    ! alive "$pid"
}

# Stops the brickd whose pid is in $pidfile, if it runs. Says "stopped" only once it is gone.
stop() {
    [ -f "$pidfile" ] || { echo "brickd is not running (no $pidfile)"; return 0; }
    local pid
    pid=$(cat "$pidfile")
    if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! alive "$pid"; then
        echo "brickd is not running (stale $pidfile)"
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid"
    if ! wait_gone "$pid" "$STOP_TERM_WAIT_S"; then
        echo "brickd (pid $pid) still runs ${STOP_TERM_WAIT_S}s after SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 5; then
            echo "brickd (pid $pid) still runs after SIGKILL; not stopped" >&2
            return 1
        fi
    fi
    rm -f "$pidfile"
    echo "brickd stopped (pid $pid)"
}

mode=background
case "$#:${1:-}" in
0:) ;;
1:--foreground) mode=foreground ;;
1:--stop) stop; exit ;;
1:-h | 1:--help) usage; exit 0 ;;
*)
    echo "run.sh: unknown arguments: $*" >&2
    usage >&2
    exit 2
    ;;
esac

# glusterfs-common carries the CLI's socket transport (rpc-transport/socket.so) and glusterfsd,
# the brick server; glusterfs-client the FUSE client (mount -t glusterfs). Without the first the
# CLI cannot open any connection. glommio's build script runs `git` (for a submodule it ships
# anyway) and liburing's configure script, which compiles with gcc.
ensure_packages ca-certificates gcc libc6-dev git glusterfs-cli glusterfs-common glusterfs-client
ensure_rust
cargo build --release --locked --bin brickd
mkdir -p "$home"
stop >/dev/null

brickd=${CARGO_TARGET_DIR:-target}/release/brickd
args=(serve --workdir "$home/workdir" --socket "$home/brickd.socket" --listen "$listen"
    --run-dir "$home/run" --log-dir "$home/log" --brick-socket-dir "$home/sockets")
if [ "$mode" = foreground ]; then
    exec "$brickd" "${args[@]}"
fi

rm -f "$home/brickd.out"
nohup "$brickd" "${args[@]}" >"$home/brickd.out" 2>"$home/brickd.log" &
pid=$!
echo "$pid" >"$pidfile"
started=0
for _ in $(seq 100); do
    if grep -q "^brickd ready" "$home/brickd.out" 2>/dev/null; then
        started=1
        break
    fi
    alive "$pid" || break
    sleep 0.1
done
if [ "$started" -ne 1 ]; then
    echo "brickd did not start; its log, $home/brickd.log:" >&2
    cat "$home/brickd.log" >&2 || true
    stop >&2 || true
    exit 1
fi

# The command this script tells the user to try; run it once first.
try=(gluster "--glusterd-sock=$home/brickd.socket" --mode=script peer status)
cli_log=$home/cli.log
rm -f "$cli_log"
if ! answer=$(timeout "$CHECK_TIMEOUT_S" "${try[@]:0:1}" "--log-file=$cli_log" "${try[@]:1}" 2>&1); then
    echo "run.sh: brickd started but \`${try[*]}\` got no answer:" >&2
    echo "$answer" >&2
    echo "the CLI's log ($cli_log) says:" >&2
    grep -E '\] (E|C|W) \[' "$cli_log" 2>/dev/null | tail -5 >&2 || true
    [ -s "$cli_log" ] || echo "(nothing)" >&2
    stop >&2 || true
    exit 1
fi

cat "$home/brickd.out"
echo "\$ ${try[*]}"
echo "$answer"
echo "log: $home/brickd.log   stop: scripts/run.sh --stop"
echo "try: ${try[*]}"
echo "serve files: mkdir -p /bricks/b1 /mnt/v1 &&"
echo "             ${try[*]:0:3} volume create v1 \$(hostname):/bricks/b1/v1 force &&"
echo "             ${try[*]:0:3} volume start v1 &&"
echo "             mount -t glusterfs -o server-port=${listen##*:} \$(hostname):/v1 /mnt/v1"
