#!/usr/bin/env bash
# Builds brickd and starts it on a self-contained default under ./local: its own workdir, unix
# socket and TCP port 24507, so it never clashes with a real glusterd. Installs what it needs.
#
#   scripts/run.sh                 build, start in the background, print the ready line
#   scripts/run.sh --foreground    build and serve in this terminal (Ctrl-C stops it)
#   scripts/run.sh --stop          stop the background brickd
#
# Environment: BRICKD_LISTEN (default 127.0.0.1:24507), BRICKD_HOME (default ./local).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

home=${BRICKD_HOME:-$PWD/local}
listen=${BRICKD_LISTEN:-127.0.0.1:24507}
pidfile=$home/brickd.pid

stop() {
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        kill -TERM "$(cat "$pidfile")"
        for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
        echo "brickd stopped"
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
--stop) stop; exit 0 ;;
esac

ensure_packages ca-certificates gcc libc6-dev pkg-config glusterfs-cli
ensure_rust
cargo build --release --bin brickd
mkdir -p "$home"
stop >/dev/null

args=(serve --workdir "$home/workdir" --socket "$home/brickd.socket" --listen "$listen")
if [ "${1:-}" = "--foreground" ]; then
    exec target/release/brickd "${args[@]}"
fi

nohup target/release/brickd "${args[@]}" >"$home/brickd.out" 2>"$home/brickd.log" &
echo $! >"$pidfile"
for _ in $(seq 100); do
    if grep -q "^brickd ready" "$home/brickd.out" 2>/dev/null; then
        cat "$home/brickd.out"
        echo "log: $home/brickd.log   stop: scripts/run.sh --stop"
        echo "try: gluster --glusterd-sock=$home/brickd.socket --mode=script peer status"
        exit 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.1
done
echo "brickd did not start; see $home/brickd.log" >&2
cat "$home/brickd.log" >&2 || true
exit 1
