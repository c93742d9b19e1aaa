#!/usr/bin/env bash
# Captures glusterd 10.3's real bytes for the golden tests (tests/golden_captures.rs).
#
# Usage: sudo scripts/capture-golden.sh [OUTDIR]      (OUTDIR defaults to tests/golden)
#
# Needs root (network namespace, tcpdump), Debian's glusterfs-server and glusterfs-cli 10.3,
# tcpdump, tshark, python3 and iproute2. It never touches a system glusterd: it starts two
# private ones on temporary workdirs and stops them (and removes the namespace) on exit.
#
# 1. glusterd A in this network namespace: unix socket under a temp dir, TCP port
#    $GOLDEN_PORT (default 24300). A python probe sends hand-made calls (DUMP, PING, unknown
#    program/version/procedure, rpcvers 3, bad arguments, odd credentials and verifiers) over
#    TCP (also recorded by tcpdump into tcp-probe.pcap) and over the unix socket. The real CLI
#    runs `peer status` and `pool list` over the unix socket through a python relay that records
#    both directions.
# 2. glusterd B in a fresh network namespace, listening on 24007 there (the CLI's
#    --remote-host always uses 24007). tcpdump records the CLI's `peer status` and `pool list`
#    over TCP; the TCP payloads are read back with tshark.
#
# Every NAME.call.bin / NAME.reply.bin is one RPC record body WITHOUT its 4-byte record mark;
# the helper fails if any message was not exactly one last fragment.
set -euo pipefail

OUT=${1:-tests/golden}
PORT=${GOLDEN_PORT:-24300}
NS=brickd-gcap-$$

if [ "$(id -u)" -ne 0 ]; then
    echo "capture-golden: needs root (network namespace and tcpdump)" >&2
    exit 1
fi
for tool in glusterd gluster tcpdump tshark python3 ip; do
    command -v "$tool" >/dev/null || { echo "capture-golden: $tool not found" >&2; exit 1; }
done

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/brickd-golden.XXXXXX)
BG_PIDS=()

stop_glusterd() { # $1 = pid file
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

cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    stop_glusterd "$WORK/a/run/glusterd.pid"
    stop_glusterd "$WORK/b/run/glusterd.pid"
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

write_volfile() { # $1 = dir, $2 = port
    mkdir -p "$1/lib" "$1/run"
    cat >"$1/glusterd.vol" <<VOL
volume management
    type mgmt/glusterd
    option working-directory $1/lib
    option run-directory $1/run
    option glusterd-sockfile $1/run/glusterd.socket
    option transport-type socket
    option transport.socket.listen-port $2
    option ping-timeout 0
    option event-threads 1
end-volume
VOL
}

wait_for() { # $1 = description, rest = command that succeeds when ready
    local what=$1
    shift
    for _ in $(seq 100); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "capture-golden: timed out waiting for $what" >&2
    exit 1
}

start_tcpdump() { # $1 = pcap, $2 = port, rest = optional "ip netns exec NS" prefix
    local pcap=$1 port=$2
    shift 2
    # --immediate-mode: hand each packet over at once instead of in ring-buffer blocks, so
    # that nothing is lost when tcpdump is stopped right after the exchange.
    "$@" tcpdump -i lo --immediate-mode -U -w "$pcap" "tcp port $port" >"$pcap.log" 2>&1 &
    TCPDUMP_PID=$!
    BG_PIDS+=("$TCPDUMP_PID")
    wait_for "tcpdump on port $port" grep -q "listening on" "$pcap.log"
}

stop_tcpdump() { # $1 = pcap
    sleep 1
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    chown "$(id -u):$(id -g)" "$1"
    rm -f "$1.log"
}

cat >"$WORK/gcap.py" <<'PY'
#!/usr/bin/env python3
"""Capture helper for scripts/capture-golden.sh (brickd golden byte tests).

Subcommands:
  relay LISTEN_SOCK TARGET_SOCK OUTDIR LABEL
      Accept one connection on a unix socket, relay it to TARGET_SOCK, record both directions,
      and write every record as OUTDIR/LABEL.call[.N].bin and OUTDIR/LABEL.reply[.N].bin.
  probe {tcp HOST PORT | unix PATH} OUTDIR PREFIX
      Send the hand-made calls listed in PROBES, one connection each, and write each call and
      the reply glusterd sent as OUTDIR/PREFIX-NAME.call.bin / .reply.bin.
  pcap PCAP SERVER_PORT OUTDIR LABEL
      Read a tcpdump capture of one CLI connection (with tshark), join the TCP payloads of each
      direction and write the records like `relay` does.

Every file holds one RPC record body: the 4-byte record mark is stripped. The helper checks
that each message came as exactly one fragment with the last-fragment bit set and fails loudly
otherwise.
"""
import os
import select
import socket
import struct
import subprocess
import sys

LAST_FRAGMENT = 0x80000000

# AUTH_GLUSTERFS_v2 credential exactly as the gluster CLI sends it (reference section 2).
CLI_CRED_V2 = struct.pack(">IIIIII", 0, 0, 0, 0, 4, 0)
AUTH_GLUSTERFS_V2 = 390039

DUMP_PROG, DUMP_VERS = 123451501, 1
CLI_PROG = 1238463


def opaque(body):
    return struct.pack(">I", len(body)) + body + bytes(-len(body) % 4)


def call(xid, prog, vers, proc, args=b"", rpcvers=2, cred=CLI_CRED_V2, flavor=AUTH_GLUSTERFS_V2,
         verf_flavor=0, verf=b""):
    head = struct.pack(">IIIIII", xid, 0, rpcvers, prog, vers, proc)
    return (head + struct.pack(">I", flavor) + opaque(cred)
            + struct.pack(">I", verf_flavor) + opaque(verf) + args)


def cred_v2(groups, lk_owner_bytes):
    """An AUTH_GLUSTERFS_v2 body: pid 0, uid 0, gid 0, `groups` group ids, a zero lk_owner."""
    body = struct.pack(">IIII", 0, 0, 0, groups) + b"".join(struct.pack(">I", g) for g in range(groups))
    return body + opaque(bytes(lk_owner_bytes))


# name -> call body. xid 2 everywhere: the first xid a libgfrpc client uses.
PROBES = {
    # DUMP with the gfs_id glusterd itself sends when it dumps a peer.
    "dump": call(2, DUMP_PROG, DUMP_VERS, 1, struct.pack(">Q", 0xCAFE)),
    # PING takes no arguments that glusterd reads; libgfrpc sends an empty gf_common_req.
    "ping": call(2, DUMP_PROG, DUMP_VERS, 2),
    # Unknown program number.
    "prog-unavail": call(2, 999999, 1, 0),
    # Known program (CLI), unknown version 1.
    "prog-mismatch": call(2, CLI_PROG, 1, 3, struct.pack(">II", 2, 0)),
    # Known program and version, procedure past the end of the actor table.
    "proc-unavail": call(2, DUMP_PROG, DUMP_VERS, 99),
    # Known program and version, procedure 0 (NULL) with no actor.
    "proc-null": call(2, DUMP_PROG, DUMP_VERS, 0),
    # CLI FSM_LOG (21): on the unix socket it exists; on TCP only the read-only table is served.
    "cli-fsm-log": call(2, CLI_PROG, 2, 21, struct.pack(">I", 0)),
    # rpcvers 3 on an otherwise valid DUMP call.
    "rpcvers3": call(2, DUMP_PROG, DUMP_VERS, 1, struct.pack(">Q", 0xCAFE), rpcvers=3),
    # LIST_FRIENDS whose arguments stop after `flags` (dict length missing).
    "garbage-args": call(2, CLI_PROG, 2, 3, struct.pack(">I", 2)),
    # PING with verifier flavor 7 and body "ABCDEFGH": does the reply echo it?
    "verf-echo": call(2, DUMP_PROG, DUMP_VERS, 2, verf_flavor=7, verf=b"ABCDEFGH"),
    # PING with an unknown credential flavor (12345): served as AUTH_NULL?
    "cred-unknown-flavor": call(2, DUMP_PROG, DUMP_VERS, 2, flavor=12345, cred=b"whatever"),
    # PING with a v2 credential whose lk_owner is 96 bytes (limit: groups + lk_owner <= 95).
    "cred-v2-lk96": call(2, DUMP_PROG, DUMP_VERS, 2, cred=cred_v2(0, 96)),
    # PING with a v2 credential at the limit (lk_owner 95 bytes): accepted.
    "cred-v2-lk95": call(2, DUMP_PROG, DUMP_VERS, 2, cred=cred_v2(0, 95)),
    # PING with a 404-byte v2 credential (96 groups): over the 400-byte RPC cap.
    "cred-404": call(2, DUMP_PROG, DUMP_VERS, 2, cred=cred_v2(96, 0)),
}


def split_records(stream, what):
    """Splits a byte stream into record bodies; each must be a single last fragment."""
    records = []
    pos = 0
    while pos < len(stream):
        if len(stream) - pos < 4:
            sys.exit(f"{what}: {len(stream) - pos} stray bytes at the end of the stream")
        (word,) = struct.unpack_from(">I", stream, pos)
        length = word & ~LAST_FRAGMENT & 0xFFFFFFFF
        if not word & LAST_FRAGMENT:
            sys.exit(f"{what}: fragment at {pos} is not a last fragment (header {word:#010x})")
        body = stream[pos + 4 : pos + 4 + length]
        if len(body) != length:
            sys.exit(f"{what}: record at {pos} truncated ({len(body)} of {length} bytes)")
        records.append(body)
        pos += 4 + length
    return records


def write_records(outdir, label, kind, records):
    if not records:
        sys.exit(f"{label}: no {kind} was captured")
    for i, body in enumerate(records):
        suffix = "" if i == 0 else f".{i + 1}"
        path = os.path.join(outdir, f"{label}.{kind}{suffix}.bin")
        with open(path, "wb") as f:
            f.write(body)
        print(f"  {path}: {len(body)} bytes")


def recv_one_record(sock, timeout_s=5.0):
    """Reads until one whole record is in; returns the raw bytes read (mark included)."""
    sock.settimeout(timeout_s)
    data = b""
    while True:
        if len(data) >= 4:
            (word,) = struct.unpack_from(">I", data, 0)
            if len(data) >= 4 + (word & 0x7FFFFFFF):
                return data
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data
        if not chunk:
            return data
        data += chunk


def cmd_relay(listen_path, target_path, outdir, label):
    if os.path.exists(listen_path):
        os.unlink(listen_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(listen_path)
    server.listen(1)
    print("ready", flush=True)
    client, _ = server.accept()
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    upstream.connect(target_path)
    streams = {client: bytearray(), upstream: bytearray()}
    peer = {client: upstream, upstream: client}
    open_ends = {client, upstream}
    while open_ends:
        readable, _, _ = select.select(list(open_ends), [], [], 30)
        if not readable:
            break
        for s in readable:
            chunk = s.recv(65536)
            if not chunk:
                open_ends.discard(s)
                try:
                    peer[s].shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            streams[s] += chunk
            peer[s].sendall(chunk)
    client.close()
    upstream.close()
    server.close()
    os.unlink(listen_path)
    write_records(outdir, label, "call", split_records(bytes(streams[client]), label + " calls"))
    write_records(outdir, label, "reply", split_records(bytes(streams[upstream]), label + " replies"))


def cmd_probe(transport, address, outdir, prefix):
    for name, body in PROBES.items():
        if transport == "tcp":
            host, port = address
            sock = socket.create_connection((host, int(port)))
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(address)
        sock.sendall(struct.pack(">I", LAST_FRAGMENT | len(body)) + body)
        raw = recv_one_record(sock)
        sock.close()
        label = f"{prefix}-{name}"
        write_records(outdir, label, "call", [body])
        if raw:
            write_records(outdir, label, "reply", split_records(raw, label + " reply"))
        else:
            print(f"  {label}: no reply within 5 s (nothing written)")


def cmd_pcap(pcap, server_port, outdir, label):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y", "tcp.len > 0", "-T", "fields",
         "-e", "tcp.srcport", "-e", "tcp.payload"],
        check=True, capture_output=True, text=True,
    ).stdout
    to_server, to_client = bytearray(), bytearray()
    for line in out.splitlines():
        srcport, payload = line.split("\t")
        data = bytes.fromhex(payload.replace(":", ""))
        if int(srcport) == int(server_port):
            to_client += data
        else:
            to_server += data
    write_records(outdir, label, "call", split_records(bytes(to_server), label + " calls"))
    write_records(outdir, label, "reply", split_records(bytes(to_client), label + " replies"))


def main(argv):
    if len(argv) == 5 and argv[0] == "relay":
        cmd_relay(*argv[1:])
    elif len(argv) == 6 and argv[0:2] == ["probe", "tcp"]:
        cmd_probe("tcp", (argv[2], argv[3]), argv[4], argv[5])
    elif len(argv) == 5 and argv[0:2] == ["probe", "unix"]:
        cmd_probe("unix", argv[2], argv[3], argv[4])
    elif len(argv) == 5 and argv[0] == "pcap":
        cmd_pcap(*argv[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
PY

# --- 1. glusterd A: TCP port $PORT and a unix socket ------------------------------------------
write_volfile "$WORK/a" "$PORT"
glusterd -N -f "$WORK/a/glusterd.vol" -p "$WORK/a/run/glusterd.pid" -l "$WORK/a/glusterd.log" &
BG_PIDS+=("$!")
SOCK_A=$WORK/a/run/glusterd.socket
wait_for "glusterd A's unix socket" test -S "$SOCK_A"
wait_for "glusterd A's TCP port" bash -c "ss -Hltn 'sport = :$PORT' | grep -q LISTEN"

echo "probes over TCP 127.0.0.1:$PORT"
start_tcpdump "$OUT/tcp-probe.pcap" "$PORT"
python3 "$WORK/gcap.py" probe tcp 127.0.0.1 "$PORT" "$OUT" tcp
stop_tcpdump "$OUT/tcp-probe.pcap"

echo "probes over the unix socket"
python3 "$WORK/gcap.py" probe unix "$SOCK_A" "$OUT" unix

for cmd in "peer status" "pool list"; do
    label="unix-cli-${cmd// /-}"
    echo "gluster $cmd over the unix socket (relay)"
    python3 "$WORK/gcap.py" relay "$WORK/relay.sock" "$SOCK_A" "$OUT" "$label" >"$WORK/relay.out" 2>&1 &
    relay_pid=$!
    wait_for "the relay" grep -q ready "$WORK/relay.out"
    # shellcheck disable=SC2086 # the command is two words on purpose
    gluster --glusterd-sock="$WORK/relay.sock" --log-file="$WORK/cli.log" --mode=script $cmd
    wait "$relay_pid"
    grep -v '^ready$' "$WORK/relay.out"
done

# --- 2. glusterd B in a namespace on 24007, the CLI with --remote-host ------------------------
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
write_volfile "$WORK/b" 24007
ip netns exec "$NS" glusterd -N -f "$WORK/b/glusterd.vol" -p "$WORK/b/run/glusterd.pid" \
    -l "$WORK/b/glusterd.log" &
BG_PIDS+=("$!")
wait_for "glusterd B's TCP port" bash -c "ip netns exec $NS ss -Hltn 'sport = :24007' | grep -q LISTEN"

for cmd in "peer status" "pool list"; do
    label="tcp-cli-${cmd// /-}"
    echo "gluster --remote-host=127.0.0.1 $cmd (tcpdump in the namespace)"
    start_tcpdump "$OUT/$label.pcap" 24007 ip netns exec "$NS"
    # shellcheck disable=SC2086
    ip netns exec "$NS" gluster --remote-host=127.0.0.1 --log-file="$WORK/cli.log" --mode=script $cmd
    stop_tcpdump "$OUT/$label.pcap"
    python3 "$WORK/gcap.py" pcap "$OUT/$label.pcap" 24007 "$OUT" "$label"
done

{
    echo "captured: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "glusterd: $(glusterd --version | head -1)"
    echo "package: $(dpkg-query -W -f='${Package} ${Version}' glusterfs-server 2>/dev/null || echo unknown)"
    echo "kernel: $(uname -r)"
} >"$OUT/capture-info.txt"
echo "done: files in $OUT"
