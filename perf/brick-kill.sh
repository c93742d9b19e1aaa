#!/usr/bin/env bash
# brick-kill.sh — how fast brickd shows a brick killed with SIGKILL offline, and how fast it
# serves again (issue 17's target: offline within 1 s, serving within 5 s), with glusterd's
# figures for the same kill in the same run (glusterd shows it offline too, and never restarts
# it: "serving again" is then "never").
#
# Makes an XFS file system on a loop device, starts brickd (release build) on --brickd-addr and
# a private glusterd on --glusterd-addr:24007, creates and starts a replica 2 volume on each,
# then --kills times on each: kill -9 the first brick's process, poll `volume status VOL --xml`
# (every ~10 ms plus the CLI's own time) until the brick shows offline, then (brickd) until it
# shows online under a new pid, and checks that the new process listens. Prints each kill's
# times and the medians; tears everything down on exit.
#
# The kills follow one another within seconds, so brickd's backoff grows with each (200 ms,
# doubled per restart in a row; it starts over once a brick ran --stable-s): the first kill is
# the isolated case, the later ones show the backoff.
#
# Usage: perf/brick-kill.sh [--kills 5] [--brickd-addr 127.1.30.1] [--brickd-port 24530]
#                           [--glusterd-addr 127.1.30.2] [--no-glusterd]
set -euo pipefail
cd "$(dirname "$0")/.."

KILLS=5
BD_ADDR=127.1.30.1
BD_PORT=24530
GD_ADDR=127.1.30.2
GLUSTERD=1
while [ $# -gt 0 ]; do
    case "$1" in
    --kills) KILLS=$2; shift 2 ;;
    --brickd-addr) BD_ADDR=$2; shift 2 ;;
    --brickd-port) BD_PORT=$2; shift 2 ;;
    --glusterd-addr) GD_ADDR=$2; shift 2 ;;
    --no-glusterd) GLUSTERD=0; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done

cargo build --release --locked --bin brickd >/dev/null
BRICKD=${CARGO_TARGET_DIR:-target}/release/brickd
TMP=$(mktemp -d /tmp/brick-kill.XXXXXX)
DEV=""
cleanup() {
    set +e
    [ -f "$TMP/bd.pid" ] && kill "$(cat "$TMP/bd.pid")" 2>/dev/null
    [ -f "$TMP/gd/glusterd.pid" ] && kill -9 "$(cat "$TMP/gd/glusterd.pid")" 2>/dev/null
    for pid in $(find "$TMP" -name '*.pid' -exec cat {} + 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    sleep 0.5
    mountpoint -q "$TMP/mnt" && umount "$TMP/mnt"
    # glusterd writes its bricks' logs to the system log directory.
    rm -f /var/log/glusterfs/bricks/"$(echo "${TMP#/}" | tr / -)"-mnt-gd*.log
    [ -n "$DEV" ] && losetup -d "$DEV"
    rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$TMP"/{mnt,bd/run,bd/log,gd/w,gd/r}
truncate -s 320M "$TMP/disk.img"
DEV=$(losetup -f --show "$TMP/disk.img")
mkfs.xfs -q "$DEV"
mount "$DEV" "$TMP/mnt"

now_ms() { date +%s%3N; }

# The pid of brick $2 of volume $3 from `volume status --xml` through socket $1; -1 offline.
brick_pid() {
    gluster --glusterd-sock="$1" --mode=script volume status "$3" --xml 2>/dev/null |
        awk -v path="$2" '
            /<path>/ { gsub(/.*<path>|<\/path>.*/, ""); here = ($0 == path) }
            here && /<status>/ { gsub(/.*<status>|<\/status>.*/, ""); st = $0 }
            here && /<pid>/ { gsub(/.*<pid>|<\/pid>.*/, ""); print (st == "1" ? $0 : -1); exit }'
}

# kills NAME SOCKET VOLUME BRICKPATH RESTARTS(1|0): one line per kill, "offline_ms serving_ms".
kills() {
    local name=$1 sock=$2 vol=$3 path=$4 restarts=$5 i pid t0 off on newpid
    for i in $(seq "${KILLS}"); do
        pid=$(brick_pid "$sock" "$path" "$vol")
        [ "${pid:--1}" -gt 0 ] || { echo "$name: brick not online before kill $i" >&2; return 1; }
        t0=$(now_ms)
        kill -9 "$pid"
        while [ "$(brick_pid "$sock" "$path" "$vol")" != "-1" ]; do sleep 0.01; done
        off=$(($(now_ms) - t0))
        on=never
        if [ "$restarts" = 1 ]; then
            while :; do
                newpid=$(brick_pid "$sock" "$path" "$vol")
                [ "${newpid:--1}" -gt 0 ] && [ "$newpid" != "$pid" ] && break
                [ $(($(now_ms) - t0)) -gt 60000 ] && { newpid=""; break; }
                sleep 0.01
            done
            [ -n "$newpid" ] && on=$(($(now_ms) - t0))
        else
            # glusterd never restarts it: start force does, and the brick signs in later.
            gluster --glusterd-sock="$sock" --mode=script volume start "$vol" force >/dev/null
            for _ in $(seq 500); do
                [ "$(brick_pid "$sock" "$path" "$vol")" -gt 0 ] 2>/dev/null && break
                sleep 0.01
            done
        fi
        echo "$name kill $i: offline after ${off} ms, serving again after ${on} ms"
    done
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

host=$(hostname)
"$BRICKD" serve --workdir "$TMP/bd/w" --socket "$TMP/bd/sock" --listen "$BD_ADDR:$BD_PORT" \
    --run-dir "$TMP/bd/run" --log-dir "$TMP/bd/log" --brick-socket-dir "$TMP/bd/run" \
    >"$TMP/bd/out" 2>"$TMP/bd/err" &
echo $! >"$TMP/bd.pid"
for _ in $(seq 100); do grep -q '^brickd ready' "$TMP/bd/out" 2>/dev/null && break; sleep 0.1; done
B="gluster --glusterd-sock=$TMP/bd/sock --mode=script"
$B volume create bk replica 2 "$BD_ADDR:$TMP/mnt/bd1" "$BD_ADDR:$TMP/mnt/bd2" force >/dev/null
$B volume start bk >/dev/null
kills brickd "$TMP/bd/sock" bk "$TMP/mnt/bd1" 1 | tee "$TMP/brickd.txt"

if [ "$GLUSTERD" = 1 ]; then
    glusterd --xlator-option "management.transport.socket.bind-address=$GD_ADDR" \
        --xlator-option "management.working-directory=$TMP/gd/w" \
        --xlator-option "management.run-directory=$TMP/gd/r" \
        --xlator-option "management.glusterd-sockfile=$TMP/gd/sock" \
        --pid-file="$TMP/gd/glusterd.pid" --log-file="$TMP/gd/glusterd.log"
    for _ in $(seq 100); do
        gluster --glusterd-sock="$TMP/gd/sock" --mode=script volume list >/dev/null 2>&1 && break
        sleep 0.1
    done
    G="gluster --glusterd-sock=$TMP/gd/sock --mode=script"
    $G volume create gk replica 2 "$GD_ADDR:$TMP/mnt/gd1" "$GD_ADDR:$TMP/mnt/gd2" force >/dev/null
    $G volume start gk >/dev/null
    for _ in $(seq 100); do [ "$(brick_pid "$TMP/gd/sock" "$TMP/mnt/gd1" gk)" -gt 0 ] 2>/dev/null && break; sleep 0.1; done
    # One kill: glusterd never restarts the brick, and its `start force` skips a brick whose
    # pid still names a process (a killed brick stays a zombie until pid 1 reaps it, which on
    # some machines takes long), so later kills would measure nothing.
    KILLS=1 kills glusterd "$TMP/gd/sock" gk "$TMP/mnt/gd1" 0 | tee "$TMP/glusterd.txt"
    $G volume stop gk >/dev/null 2>&1 || true
fi
$B volume stop bk >/dev/null 2>&1 || true

echo
echo "median offline: brickd $(sed 's/.*offline after \([0-9]*\) ms.*/\1/' "$TMP/brickd.txt" | median) ms" \
    "$([ "$GLUSTERD" = 1 ] && echo "glusterd $(sed 's/.*offline after \([0-9]*\) ms.*/\1/' "$TMP/glusterd.txt" | median) ms")"
echo "median serving again: brickd $(sed 's/.*again after \([0-9]*\) ms/\1/' "$TMP/brickd.txt" | median) ms" \
    "$([ "$GLUSTERD" = 1 ] && echo "glusterd never (no supervision)")"
