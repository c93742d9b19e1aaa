#!/usr/bin/env bash
# Makes a glusterd working directory with a REAL glusterd 10.3, for the store tests
# (tests/store.rs) and later differential tests of the CLI.
#
# Usage: sudo scripts/make-glusterd-workdir.sh OUTDIR
#
#   OUTDIR        receives glusterd A's working directory (glusterd.info, peers/, vols/, …)
#   OUTDIR.cli/   receives the real CLI's text outputs (volume info, peer status, … and --xml)
#
# Needs root, Debian's glusterfs-server and glusterfs-cli 10.3, xfsprogs, util-linux (unshare,
# losetup) and iproute2. It never touches a system glusterd or the host's network and mounts:
#
# - The script re-runs itself in a private mount namespace. There it mounts a tmpfs over
#   $FIXTURE_ROOT (default /srv; only this process tree sees it), so every path glusterd writes
#   is the same on every run: /srv/a (glusterd A: lib, run, log), /srv/b (glusterd B),
#   /srv/d0../srv/d5 (the brick file systems). A private /etc/hosts is bind-mounted with the
#   names node-a (192.0.2.1) and node-b (192.0.2.2); the fixture depends on no real hostname.
# - Two network namespaces joined by a veth pair: glusterd A in one, glusterd B in the other,
#   each on port 24007 there (glusterd dials peers on 24007). B is probed from A, so A's
#   peers/ holds a real peer file.
# - Six 320 MiB sparse images (mkfs.xfs refuses less than 300 MiB) on loop devices, XFS,
#   mounted at /srv/d0../srv/d5. Every brick is node-a:/srv/dN/<volume>.
# - Volumes, created with the real CLI over A's unix socket: dist1 (1 brick), dist3,
#   rep3 (replica 3), arb (replica 3 arbiter 1), disp (disperse 3 redundancy 1),
#   distrep (2 x 3), distdisp (2 x (2 + 1)), ta (replica 2 thin-arbiter 1),
#   opts (distribute, several `volume set`, a value containing '='), stopped (started then
#   stopped: status 2) and started (left running: status 1, real brick ports).
# - The CLI outputs are captured while everything runs. Then glusterd A is stopped with
#   SIGTERM (like `systemctl stop glusterd`: the bricks stay up), its working directory is
#   copied to OUTDIR without run-time files, and everything is stopped and removed: brick
#   processes by their pid files, glusterd B, mounts, loop devices, namespaces (trap on EXIT,
#   also on failure). Brick processes put their unix sockets in /var/run/gluster whatever the
#   run-directory says; the script removes the ones its bricks made.
#
# Environment: FIXTURE_ROOT (default /srv) is the directory the private tmpfs covers;
# GLUSTERD_LOG_LEVEL (e.g. DEBUG) is passed to both glusterds; LOG_TAIL_LINES (default 30) is
# how much of their logs a failure prints.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "make-glusterd-workdir: needs root (mounts, loop devices, network namespaces)" >&2
    exit 1
fi
for tool in glusterd gluster mkfs.xfs losetup unshare ip ss; do
    command -v "$tool" >/dev/null || { echo "make-glusterd-workdir: $tool not found" >&2; exit 1; }
done

ROOT=${FIXTURE_ROOT:-/srv}

# Re-run in a private mount namespace: the tmpfs on $ROOT and the bind-mounted /etc/hosts are
# seen by this script and its children only, and vanish with them.
if [ -z "${BRICKD_WORKDIR_INNER:-}" ]; then
    mkdir -p "$1"
    out_abs=$(cd "$1" && pwd)
    exec unshare --mount --propagation private env BRICKD_WORKDIR_INNER=1 "$0" "$out_abs"
fi

OUT=$1
CLI_OUT=$OUT.cli
[ -d "$ROOT" ] || { echo "make-glusterd-workdir: $ROOT does not exist" >&2; exit 1; }

WORK=$(mktemp -d /tmp/brickd-workdir.XXXXXX)
NS_A=brickd-wd-a-$$
NS_B=brickd-wd-b-$$
ADDR_A=192.0.2.1
ADDR_B=192.0.2.2
FS_COUNT=6
LOOPS=()
MOUNTS=()
SOCKETS=() # brick sockets in /var/run/gluster that glusterd leaves behind after `volume stop`

log() { printf '==> %s\n' "$*" >&2; }

kill_pidfile() { # $1 = pid file; TERM, then KILL after 10 s
    local pid
    [ -s "$1" ] || return 0
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

# Bricks and daemons that glusterd starts put their unix socket in /var/run/gluster whatever
# the run-directory says (`-S PATH` on their command line). Prints that path for the process
# of pid file $1, if any.
socket_of_pidfile() {
    local pid arg take=0
    [ -s "$1" ] || return 0
    pid=$(cat "$1")
    [ -r "/proc/$pid/cmdline" ] || return 0
    while IFS= read -r -d '' arg; do
        if [ $take -eq 1 ]; then
            echo "$arg"
            return 0
        fi
        case $arg in
        -S) take=1 ;;
        --socket-file=*) echo "${arg#--socket-file=}"; return 0 ;;
        esac
    done <"/proc/$pid/cmdline"
}

cleanup() {
    local rc=$? f m dev sock
    set +e
    if [ $rc -ne 0 ]; then
        for f in "$ROOT"/a/log/glusterd.log "$ROOT"/b/log/glusterd.log; do
            [ -f "$f" ] && { echo "--- last lines of $f" >&2; tail -n "${LOG_TAIL_LINES:-30}" "$f" >&2; }
        done
    fi
    kill_pidfile "$ROOT/a/run/glusterd.pid"
    kill_pidfile "$ROOT/b/run/glusterd.pid"
    # Bricks, self-heal daemon and friends that glusterd started: all write pid files below
    # the private run directories.
    for f in $(find "$ROOT/a/run" "$ROOT/b/run" -name '*.pid' 2>/dev/null); do
        sock=$(socket_of_pidfile "$f")
        kill_pidfile "$f"
        case $sock in
        /var/run/gluster/*.socket | /run/gluster/*.socket) [ -S "$sock" ] && rm -f "$sock" ;;
        esac
    done
    for sock in "${SOCKETS[@]}"; do
        [ -S "$sock" ] && rm -f "$sock"
    done
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        m=${MOUNTS[i]}
        umount "$m" 2>/dev/null || umount -l "$m"
    done
    for dev in "${LOOPS[@]}"; do
        losetup -d "$dev"
    done
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
    rm -rf "$WORK"
    if [ $rc -ne 0 ]; then
        echo "make-glusterd-workdir: FAILED (exit $rc)" >&2
    fi
    exit $rc
}
trap cleanup EXIT

wait_for() { # $1 = description, rest = command that succeeds when ready (20 s)
    local what=$1
    shift
    for _ in $(seq 200); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "make-glusterd-workdir: timed out waiting for $what" >&2
    exit 1
}

# --- private paths ------------------------------------------------------------------------------
mount -t tmpfs -o mode=0755,size=64m brickd-workdir "$ROOT"
MOUNTS+=("$ROOT")
cat >"$WORK/hosts" <<HOSTS
127.0.0.1 localhost
$ADDR_A node-a
$ADDR_B node-b
HOSTS
mount --bind "$WORK/hosts" /etc/hosts
MOUNTS+=(/etc/hosts)

# --- network: A and B, each in its own namespace ------------------------------------------------
log "network namespaces $NS_A ($ADDR_A) and $NS_B ($ADDR_B)"
ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add veth-wd-a netns "$NS_A" type veth peer name veth-wd-b netns "$NS_B"
ip -n "$NS_A" addr add "$ADDR_A/24" dev veth-wd-a
ip -n "$NS_B" addr add "$ADDR_B/24" dev veth-wd-b
for ns in "$NS_A" "$NS_B"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_A" link set veth-wd-a up
ip -n "$NS_B" link set veth-wd-b up

# --- brick file systems -------------------------------------------------------------------------
log "$FS_COUNT XFS file systems on loop devices at $ROOT/d0..d$((FS_COUNT - 1))"
for ((i = 0; i < FS_COUNT; i++)); do
    truncate -s 320M "$WORK/d$i.img"
    mkfs.xfs -q "$WORK/d$i.img"
    dev=$(losetup -f --show "$WORK/d$i.img")
    LOOPS+=("$dev")
    mkdir -p "$ROOT/d$i"
    mount "$dev" "$ROOT/d$i"
    MOUNTS+=("$ROOT/d$i")
done

# --- the two glusterds --------------------------------------------------------------------------
start_glusterd() { # $1 = name (a|b), $2 = namespace
    local dir=$ROOT/$1
    mkdir -p "$dir/lib" "$dir/run" "$dir/log"
    cat >"$dir/glusterd.vol" <<VOL
volume management
    type mgmt/glusterd
    option working-directory $dir/lib
    option run-directory $dir/run
    option logging-directory $dir/log
    option glusterd-sockfile $dir/run/glusterd.socket
    option transport-type socket
    option transport.socket.keepalive-time 10
    option transport.socket.keepalive-interval 2
    option transport.socket.read-fail-log off
    option transport.socket.listen-port 24007
    option ping-timeout 0
    option event-threads 1
    option max-port 60999
end-volume
VOL
    ip netns exec "$2" glusterd -N -f "$dir/glusterd.vol" -p "$dir/run/glusterd.pid" \
        -l "$dir/log/glusterd.log" ${GLUSTERD_LOG_LEVEL:+-L "$GLUSTERD_LOG_LEVEL"} &
    wait_for "glusterd $1's unix socket" test -S "$dir/run/glusterd.socket"
    wait_for "glusterd $1's TCP port" \
        bash -c "ip netns exec $2 ss -Hltn 'sport = :24007' | grep -q LISTEN"
}

log "glusterd A and B"
start_glusterd a "$NS_A"
start_glusterd b "$NS_B"

gcli() { # gluster CLI against glusterd A, inside A's namespace
    ip netns exec "$NS_A" gluster --glusterd-sock="$ROOT/a/run/glusterd.socket" \
        --log-file="$ROOT/a/log/cli.log" --mode=script "$@"
}

log "peer probe node-b"
gcli --timeout=30 peer probe node-b
peer_connected() { gcli peer status | grep -q 'Peer in Cluster (Connected)'; }
wait_for "node-b to be in the cluster" peer_connected

# --- volumes ------------------------------------------------------------------------------------
bricks() { # $1 = volume, rest = file-system indexes
    local vol=$1 i
    shift
    for i in "$@"; do
        printf 'node-a:%s/d%s/%s ' "$ROOT" "$i" "$vol"
    done
}

log "volumes"
# shellcheck disable=SC2046 # brick lists are meant to split
{
    gcli volume create dist1 $(bricks dist1 0)
    gcli volume create dist3 $(bricks dist3 0 1 2)
    # Several bricks of one replica or disperse set on one server need `force`.
    gcli volume create rep3 replica 3 $(bricks rep3 0 1 2) force
    gcli volume create arb replica 3 arbiter 1 $(bricks arb 0 1 2) force
    gcli volume create disp disperse 3 redundancy 1 $(bricks disp 0 1 2) force
    gcli volume create distrep replica 3 $(bricks distrep 0 1 2 3 4 5) force
    gcli volume create distdisp disperse 3 redundancy 1 $(bricks distdisp 0 1 2 3 4 5) force
    gcli volume create ta replica 2 thin-arbiter 1 $(bricks ta 0 1 2) force
    gcli volume create opts $(bricks opts 3 4)
    gcli volume create stopped $(bricks stopped 5)
    gcli volume create started $(bricks started 4 5)
}
gcli volume set opts performance.cache-size 64MB
gcli volume set opts auth.allow '192.0.2.*'
gcli volume set opts features.read-only on
gcli volume set opts diagnostics.brick-log-level WARNING
gcli volume set opts user.brickd.note 'a=b=c'
gcli volume start stopped
for f in $(find "$ROOT/a/run" -path '*stopped*' -name '*.pid'); do
    sock=$(socket_of_pidfile "$f")
    [ -n "$sock" ] && SOCKETS+=("$sock")
done
gcli volume stop stopped
gcli volume start started

# --- the CLI's outputs --------------------------------------------------------------------------
log "CLI outputs into $CLI_OUT"
rm -rf "$CLI_OUT"
mkdir -p "$CLI_OUT"
capture() { # $1 = file name (without .txt), rest = CLI arguments
    local name=$1 rc=0
    shift
    gcli "$@" >"$CLI_OUT/$name.txt" 2>"$WORK/stderr" || rc=$?
    if [ -s "$WORK/stderr" ]; then
        cp "$WORK/stderr" "$CLI_OUT/$name.stderr.txt"
    fi
    printf '%s\t%s\tgluster --mode=script %s\n' "$name" "$rc" "$*" >>"$CLI_OUT/commands.tsv"
}
printf 'name\texit\tcommand\n' >"$CLI_OUT/commands.tsv"
VOLUMES=(arb dist1 dist3 distdisp distrep disp opts rep3 started stopped ta)
for xml in "" "--xml"; do
    prefix=${xml:+xml-}
    capture "${prefix}volume-info" volume info $xml
    for vol in "${VOLUMES[@]}"; do
        capture "${prefix}volume-info-$vol" volume info "$vol" $xml
    done
    capture "${prefix}volume-info-nosuch" volume info nosuch $xml
    capture "${prefix}volume-list" volume list $xml
    capture "${prefix}peer-status" peer status $xml
    capture "${prefix}pool-list" pool list $xml
    capture "${prefix}system-uuid-get" system:: uuid get $xml
    capture "${prefix}volume-status" volume status $xml
    capture "${prefix}volume-status-started" volume status started $xml
done

# --- freeze A's working directory ---------------------------------------------------------------
log "stopping glusterd A (SIGTERM; the bricks of 'started' keep running)"
kill_pidfile "$ROOT/a/run/glusterd.pid"

log "copying A's working directory to $OUT"
rm -rf "$OUT"
mkdir -p "$OUT"
# Run-time files (pid files, sockets) are dropped; volfiles stay.
(cd "$ROOT/a/lib" && find . -type f ! -name '*.pid' ! -name '*.socket' -print0 |
    xargs -0 cp --parents -t "$OUT")
{
    echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "glusterd: $(glusterd --version | head -1)"
    echo "package: $(dpkg-query -W -f='${Package} ${Version}' glusterfs-server 2>/dev/null || echo unknown)"
    echo "node-a: $(cat "$ROOT/a/lib/glusterd.info" | tr '\n' ' ')"
    echo "node-b: $(cat "$ROOT/b/lib/glusterd.info" | tr '\n' ' ')"
} >"$CLI_OUT/made.txt"
log "done: $OUT and $CLI_OUT"
