#!/usr/bin/env bash
# Captures a real glusterd 10.3's replies to every read-only CLI command, for the volumes of the
# fixture workdir tests/fixtures/workdirs/glusterd-10.3, so brickd can be made to answer the same.
#
# Usage: sudo scripts/capture-cli-replies.sh [OUTDIR]     (OUTDIR defaults to tests/golden/cli)
#        CAPCLI_NODE_B=down sudo scripts/capture-cli-replies.sh   (do not start node-b at all)
#        CAPCLI_KEEP=DIR sudo scripts/capture-cli-replies.sh      (keep logs and workdirs in DIR)
#
# Needs root, Debian's glusterfs-server and glusterfs-cli 10.3, python3, iproute2, util-linux
# (unshare), tcpdump and tshark. It never touches the fixture, a system glusterd, the host's
# network or its mounts:
#
# - The script re-runs itself in a private mount namespace. There it mounts a tmpfs over
#   $CAPCLI_ROOT (default /srv, the root the fixture was made under, so every stored path
#   works unchanged; only this process tree sees the tmpfs), a tmpfs over /run/gluster (where
#   brick processes put their sockets) and a private /etc/hosts with node-a (192.0.2.1) and
#   node-b (192.0.2.2), exactly as scripts/make-glusterd-workdir.sh did.
# - Two network namespaces capcli-a-PID and capcli-b-PID joined by a veth pair, like the
#   fixture's; each glusterd listens on 24007 inside its own namespace (glusterd dials peers
#   on 24007), so no port on the host is used.
# - node-a = glusterd on a COPY of the fixture workdir at $ROOT/a/lib (same UUID).
#   Every brick directory $ROOT/dN/<vol> exists on its own small tmpfs with the volume's
#   trusted.glusterfs.volume-id xattr, so the bricks of the started volume `started` really
#   come up (glusterd restarts them at start-up) and `volume status` shows them online.
# - node-b (unless CAPCLI_NODE_B=down): the fixture keeps only node-a's workdir, so node-b's
#   is rebuilt from it: its UUID (from node-a's peers/ file), a peers/ file for node-a and a
#   copy of node-a's vols/ (the volume checksums must match or the peers reject each other).
#   peer status then shows node-b "Peer in Cluster (Connected)", as when the fixture was made.
#
# Captures (see tests/golden/cli/README.md):
# 1. Every command runs through the real CLI, `gluster --glusterd-sock=RELAY --mode=script …`,
#    plain and with --xml. RELAY is a python unix-socket relay to node-a's socket that records
#    both directions: SLUG.N.call.bin / SLUG.N.reply.bin (one RPC record body each, without the
#    record mark; N = the call's position within the command), decoded dumps
#    SLUG.N.call.dict.txt / SLUG.N.reply.dict.txt (dict pairs in wire order), the CLI's stdout
#    SLUG.stdout.txt and, when not empty, its stderr SLUG.stderr.txt.
# 2. A few hand-made calls the CLI never sends (probe-*).
# 3. The non-XML commands again over TCP (`--remote-host=127.0.0.1`, recorded with tcpdump
#    inside node-a's namespace); tcp-compare.tsv says whether each record is byte-identical to
#    the unix-socket one (a status reply's transaction_id is random per call, so it is
#    ignored there), and records that really differ are kept under tcp/.
# 4. With node-b up: node-b is stopped and peer status / pool list / volume status are
#    captured again as nodeb-down-*.
# 5. workdir-changes.txt: what node-a's glusterd changed in its copy of the fixture.
# Everything is stopped and removed on exit (trap), also on failure. OUTDIR is emptied first,
# except README.md; a directory that was not written by this script is refused.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "capture-cli-replies: needs root (mount and network namespaces)" >&2
    exit 1
fi
for tool in glusterd gluster python3 unshare ip ss tcpdump tshark setfattr; do
    command -v "$tool" >/dev/null || { echo "capture-cli-replies: $tool not found" >&2; exit 1; }
done

ROOT=${CAPCLI_ROOT:-/srv}
NODE_B=${CAPCLI_NODE_B:-up}
case $NODE_B in up | down) ;; *) echo "CAPCLI_NODE_B must be up or down" >&2; exit 2 ;; esac

if [ -z "${CAPCLI_INNER:-}" ]; then
    repo=$(cd "$(dirname "$0")/.." && pwd)
    out=${1:-$repo/tests/golden/cli}
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    if [ ! -e "$out/.capture-cli-replies" ] &&
        [ -n "$(find "$out" -mindepth 1 ! -name README.md -print -quit)" ]; then
        echo "capture-cli-replies: $out holds files this script did not write; refusing" >&2
        exit 1
    fi
    [ -d "$ROOT" ] || { echo "capture-cli-replies: $ROOT does not exist" >&2; exit 1; }
    exec unshare --mount --propagation private \
        env CAPCLI_INNER=1 CAPCLI_REPO="$repo" "$0" "$out"
fi

OUT=$1
REPO=$CAPCLI_REPO
FIXTURE=$REPO/tests/fixtures/workdirs/glusterd-10.3
FIXTURE_CLI=$REPO/tests/fixtures/workdirs/glusterd-10.3.cli
[ -f "$FIXTURE/glusterd.info" ] || { echo "capture-cli-replies: no fixture at $FIXTURE" >&2; exit 1; }

WORK=$(mktemp -d /tmp/capcli.XXXXXX)
NS_A=capcli-a-$$
NS_B=capcli-b-$$
ADDR_A=192.0.2.1
ADDR_B=192.0.2.2
MOUNTS=()

log() { printf '==> %s\n' "$*" >&2; }

kill_pid() { # $1 = pid; TERM, then KILL after 10 s
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
}

kill_pidfile() {
    [ -s "$1" ] && kill_pid "$(cat "$1")"
    return 0
}

cleanup() {
    local rc=$? f m pid ns
    set +e
    if [ $rc -ne 0 ]; then
        for f in "$ROOT"/a/log/glusterd.log "$ROOT"/b/log/glusterd.log; do
            [ -f "$f" ] && { echo "--- last lines of $f" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    [ -n "${TCPDUMP_PID:-}" ] && kill_pid "$TCPDUMP_PID"
    if [ -n "${CAPCLI_KEEP:-}" ]; then
        mkdir -p "$CAPCLI_KEEP"
        cp -a "$ROOT/a" "$CAPCLI_KEEP/node-a" 2>/dev/null
        [ -d "$ROOT/b" ] && cp -a "$ROOT/b" "$CAPCLI_KEEP/node-b" 2>/dev/null
    fi
    kill_pidfile "$ROOT/a/run/glusterd.pid"
    kill_pidfile "$ROOT/b/run/glusterd.pid"
    # Bricks that glusterd started write pid files below its run directory.
    for f in $(find "$ROOT/a/run" "$ROOT/b/run" -name '*.pid' 2>/dev/null); do
        kill_pidfile "$f"
    done
    # Anything else still running in our own namespaces was started by this script.
    for ns in "$NS_A" "$NS_B"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill_pid "$pid"
        done
        ip netns del "$ns" 2>/dev/null
    done
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        m=${MOUNTS[i]}
        umount "$m" 2>/dev/null || umount -l "$m"
    done
    rm -rf "$WORK"
    [ $rc -ne 0 ] && echo "capture-cli-replies: FAILED (exit $rc)" >&2
    exit $rc
}
trap cleanup EXIT

wait_for() { # $1 = description, $2 = seconds, rest = command that succeeds when ready
    local what=$1 secs=$2
    shift 2
    for _ in $(seq $((secs * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "capture-cli-replies: timed out waiting for $what" >&2
    if [ -s "$WORK/last-wait.txt" ]; then
        echo "--- the last answer:" >&2
        cat "$WORK/last-wait.txt" >&2
    fi
    exit 1
}

# --- the python helper (relay, probes, pcap reader, decoder) --------------------------------------
cat >"$WORK/capcli.py" <<'PY'
#!/usr/bin/env python3
"""Capture helper for scripts/capture-cli-replies.sh (brickd CLI golden replies).

Subcommands:
  run OUTDIR SLUG TARGET_SOCK -- CMD...
      Listen on a fresh unix socket, run CMD with every "{SOCK}" in it replaced by that
      socket's path, relay each connection CMD opens to TARGET_SOCK (glusterd's unix socket)
      and record both directions. Writes OUTDIR/SLUG.stdout.txt (and .stderr.txt if not empty),
      then for the n-th call (1-based, in the order the calls were sent) SLUG.n.call.bin,
      SLUG.n.reply.bin (if glusterd replied) and their decoded .call.dict.txt / .reply.dict.txt.
      Prints one summary line: "SLUG<TAB>exit<TAB>calls<TAB>replies".
  probe OUTDIR SLUG TARGET_SOCK PROBE
      Sends one hand-made call (see PROBES) on its own connection and writes the same files.
  pcap PCAP SERVER_PORT OUTDIR SLUG
      Reads a tcpdump capture (with tshark), splits it into TCP connections and writes the
      records of every connection like `run` does (no stdout file).
  same FILE_A.bin FILE_B.bin
      Prints "identical", "identical except transaction_id" or "DIFFERENT".
  decode FILE.bin
      Prints the decoded form of one call or reply record body.

Every .bin file holds one RPC record body: the 4-byte record mark is stripped. The helper checks
that each message came as exactly one fragment with the last-fragment bit set and fails loudly
otherwise. The .dict.txt files list the dict pairs in WIRE order.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

LAST_FRAGMENT = 0x80000000

CLI_PROG, CLI_VERS = 1238463, 2
HNDSK_PROG = 14398633
PMAP_PROG = 34123456
DUMP_PROG = 123451501

CLI_PROCS = {
    0: "NULL", 1: "PROBE", 2: "DEPROBE", 3: "LIST_FRIENDS", 4: "CREATE_VOLUME",
    5: "GET_VOLUME", 6: "GET_NEXT_VOLUME", 7: "DELETE_VOLUME", 8: "START_VOLUME",
    9: "STOP_VOLUME", 10: "RENAME_VOLUME", 11: "DEFRAG_VOLUME", 12: "SET_VOLUME",
    13: "ADD_BRICK", 14: "REMOVE_BRICK", 15: "REPLACE_BRICK", 16: "LOG_ROTATE",
    17: "GETSPEC", 18: "PMAP_PORTBYBRICK", 19: "SYNC_VOLUME", 20: "RESET_VOLUME",
    21: "FSM_LOG", 22: "GSYNC_SET", 23: "PROFILE_VOLUME", 24: "QUOTA", 25: "TOP_VOLUME",
    26: "GETWD", 27: "STATUS_VOLUME", 28: "STATUS_ALL", 29: "MOUNT", 30: "UMOUNT",
    31: "HEAL_VOLUME", 32: "STATEDUMP_VOLUME", 33: "LIST_VOLUME", 34: "CLRLOCKS_VOLUME",
    35: "UUID_RESET", 36: "UUID_GET", 37: "COPY_FILE", 38: "SYS_EXEC", 39: "SNAP",
    40: "BARRIER_VOLUME", 41: "GET_VOL_OPT", 42: "GANESHA", 43: "BITROT", 44: "ATTACH_TIER",
    45: "TIER", 46: "GET_STATE", 47: "RESET_BRICK", 48: "REMOVE_TIER_BRICK",
    49: "ADD_TIER_BRICK",
}
PROG_NAMES = {
    CLI_PROG: "GLUSTER_CLI", HNDSK_PROG: "GLUSTER_HNDSK", PMAP_PROG: "PMAP",
    DUMP_PROG: "GF_DUMP",
}
ACCEPT_STATS = {0: "SUCCESS", 1: "PROG_UNAVAIL", 2: "PROG_MISMATCH", 3: "PROC_UNAVAIL",
                4: "GARBAGE_ARGS", 5: "SYSTEM_ERR"}

# AUTH_GLUSTERFS_v2 credential exactly as the gluster CLI sends it.
CLI_CRED_V2 = struct.pack(">IIIIII", 0, 0, 0, 0, 4, 0)
AUTH_GLUSTERFS_V2 = 390039


# --- XDR and dict helpers -----------------------------------------------------------------------

def opaque(body):
    return struct.pack(">I", len(body)) + body + bytes(-len(body) % 4)


def xdr_string(text):
    return opaque(text.encode())


def serialize_dict(pairs):
    """Serialized gluster dict, pairs given in WIRE order; str values get their NUL."""
    out = struct.pack(">i", len(pairs))
    for key, value in pairs:
        if isinstance(value, str):
            value = value.encode() + b"\0"
        out += struct.pack(">ii", len(key), len(value)) + key.encode() + b"\0" + value
    return out


def call(xid, prog, vers, proc, args=b""):
    head = struct.pack(">IIIIII", xid, 0, 2, prog, vers, proc)
    return (head + struct.pack(">I", AUTH_GLUSTERFS_V2) + opaque(CLI_CRED_V2)
            + struct.pack(">I", 0) + opaque(b"") + args)


class Reader:
    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def u32(self):
        if self.pos + 4 > len(self.data):
            raise ValueError(f"truncated at byte {self.pos}")
        (v,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return v

    def i32(self):
        v = self.u32()
        return v - (1 << 32) if v & 0x80000000 else v

    def opaque(self):
        n = self.u32()
        if self.pos + n > len(self.data):
            raise ValueError(f"opaque of {n} bytes runs past the end at byte {self.pos}")
        body = self.data[self.pos : self.pos + n]
        self.pos += n + (-n % 4)
        return body

    def rest(self):
        return self.data[self.pos :]


def render_value(value):
    """A NUL-terminated printable value is shown as a quoted string, anything else as hex."""
    if value.endswith(b"\0") and b"\0" not in value[:-1]:
        try:
            text = value[:-1].decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and all(c.isprintable() or c in "\t\n" for c in text):
            escaped = text.replace("\\", "\\\\").replace('"', '\\"')
            escaped = escaped.replace("\n", "\\n").replace("\t", "\\t")
            return f'"{escaped}"'
    return f"hex:{value.hex()} ({len(value)} bytes, binary: no trailing NUL string)"


def decode_dict(blob, indent="  "):
    """Lines describing a serialized dict, pairs in wire order."""
    if len(blob) == 0:
        return [f"{indent}(empty opaque: length 0, no dict at all)"]
    lines = []
    try:
        (count,) = struct.unpack_from(">i", blob, 0)
        pos = 4
        lines.append(f"{indent}(dict: {len(blob)} bytes, count {count})")
        for i in range(count):
            keylen, vallen = struct.unpack_from(">ii", blob, pos)
            pos += 8
            key = blob[pos : pos + keylen]
            if blob[pos + keylen] != 0:
                lines.append(f"{indent}!! key {i} is not NUL-terminated")
            pos += keylen + 1
            value = blob[pos : pos + vallen]
            pos += vallen
            lines.append(f"{indent}{key.decode('utf-8', 'replace')} = {render_value(value)}")
        if pos != len(blob):
            lines.append(f"{indent}!! {len(blob) - pos} bytes after the last pair: {blob[pos:].hex()}")
    except (struct.error, IndexError) as e:
        lines.append(f"{indent}!! dict does not parse ({e}); raw: {blob.hex()}")
    return lines


def text_field(raw):
    return render_value(raw + b"\0") if raw is not None else "-"


def decode_call_args(prog, proc, r):
    lines = []
    if prog == CLI_PROG:
        if proc == 3:
            lines.append(f"flags = {r.i32()}")
            lines.append("dict:")
            lines += decode_dict(r.opaque())
        elif proc == 26:
            lines.append(f"unused = {r.i32()}")
        elif proc == 21:
            lines.append(f"name = {text_field(r.opaque())}")
        elif proc == 29:
            lines.append(f"label = {text_field(r.opaque())}")
            lines.append("dict:")
            lines += decode_dict(r.opaque())
        elif proc == 30:
            lines.append(f"lazy = {r.i32()}")
            lines.append(f"path = {text_field(r.opaque())}")
        else:
            lines.append("dict (gf_cli_req):")
            lines += decode_dict(r.opaque())
    elif prog == HNDSK_PROG and proc == 2:
        lines.append(f"flags = {r.u32()}")
        lines.append(f"key = {text_field(r.opaque())}")
        lines.append("xdata:")
        lines += decode_dict(r.opaque())
    elif prog == PMAP_PROG and proc == 1:
        lines.append(f"brick = {text_field(r.opaque())}")
    rest = r.rest()
    if rest:
        lines.append(f"(undecoded arguments: {rest.hex()})")
    return lines


def decode_reply_results(prog, proc, r):
    lines = []
    if prog == CLI_PROG:
        lines.append(f"op_ret = {r.i32()}")
        lines.append(f"op_errno = {r.i32()}")
        if proc == 3:
            lines.append("friends:")
            lines += decode_dict(r.opaque())
        elif proc in (26, 29):
            lines.append(f"{'wd' if proc == 26 else 'path'} = {text_field(r.opaque())}")
        elif proc == 30:
            pass
        elif proc == 21:
            lines.append(f"op_errstr = {text_field(r.opaque())}")
            lines.append("fsm_log:")
            lines += decode_dict(r.opaque())
        else:
            lines.append(f"op_errstr = {text_field(r.opaque())}")
            lines.append("dict:")
            lines += decode_dict(r.opaque())
    elif prog == HNDSK_PROG and proc == 2:
        lines.append(f"op_ret = {r.i32()}")
        lines.append(f"op_errno = {r.i32()}")
        lines.append(f"spec = {text_field(r.opaque())}")
        lines.append("xdata:")
        lines += decode_dict(r.opaque())
    elif prog == PMAP_PROG and proc == 1:
        lines.append(f"op_ret = {r.i32()}")
        lines.append(f"op_errno = {r.i32()}")
        lines.append(f"status = {r.i32()}")
        lines.append(f"port = {r.i32()}")
    rest = r.rest()
    if rest:
        lines.append(f"(undecoded results: {rest.hex()})")
    return lines


def proc_label(prog, vers, proc):
    name = CLI_PROCS.get(proc, "?") if prog == CLI_PROG else {
        (HNDSK_PROG, 2): "GETSPEC", (PMAP_PROG, 1): "PORTBYBRICK"}.get((prog, proc), "?")
    return f"{PROG_NAMES.get(prog, '?')} {prog} v{vers} proc {proc} {name}"


def describe_call(body):
    r = Reader(body)
    xid, mtype, rpcvers, prog, vers, proc = (r.u32() for _ in range(6))
    cred_flavor = r.u32()
    cred = r.opaque()
    verf_flavor = r.u32()
    verf = r.opaque()
    lines = [
        f"# CALL record body, {len(body)} bytes (record mark 0x{LAST_FRAGMENT | len(body):08x} stripped)",
        f"xid = {xid}, msg_type = {mtype}, rpcvers = {rpcvers}",
        f"program = {proc_label(prog, vers, proc)}",
        f"cred = flavor {cred_flavor}, {len(cred)} bytes {cred.hex()}",
        f"verf = flavor {verf_flavor}, {len(verf)} bytes {verf.hex()}",
    ]
    try:
        lines += decode_call_args(prog, proc, r)
    except ValueError as e:
        lines.append(f"!! arguments do not decode: {e}; raw: {r.rest().hex()}")
    return (prog, vers, proc), lines


def describe_reply(body, key):
    prog, vers, proc = key
    r = Reader(body)
    xid, mtype, stat = r.u32(), r.u32(), r.u32()
    lines = [
        f"# REPLY record body, {len(body)} bytes (record mark 0x{LAST_FRAGMENT | len(body):08x} stripped)",
        f"xid = {xid}, msg_type = {mtype}, reply_stat = {stat} ({'MSG_ACCEPTED' if stat == 0 else 'MSG_DENIED'})",
        f"(reply to {proc_label(prog, vers, proc)})",
    ]
    if stat != 0:
        lines.append(f"reject body: {r.rest().hex()}")
        return lines
    verf_flavor = r.u32()
    verf = r.opaque()
    accept = r.u32()
    lines.append(f"verf = flavor {verf_flavor}, {len(verf)} bytes {verf.hex()}")
    lines.append(f"accept_stat = {accept} ({ACCEPT_STATS.get(accept, '?')})")
    if accept != 0:
        if r.rest():
            lines.append(f"(body: {r.rest().hex()})")
        return lines
    try:
        lines += decode_reply_results(prog, proc, r)
    except ValueError as e:
        lines.append(f"!! results do not decode: {e}; raw: {r.rest().hex()}")
    return lines


# --- record handling ----------------------------------------------------------------------------

class RecordSplitter:
    """Splits a byte stream into record bodies; each must be a single last fragment."""

    def __init__(self, what):
        self.what = what
        self.buf = bytearray()

    def feed(self, chunk):
        self.buf += chunk
        out = []
        while len(self.buf) >= 4:
            (word,) = struct.unpack_from(">I", self.buf, 0)
            if not word & LAST_FRAGMENT:
                raise SystemExit(f"{self.what}: a fragment is not a last fragment (header {word:#010x})")
            length = word & 0x7FFFFFFF
            if len(self.buf) < 4 + length:
                break
            out.append(bytes(self.buf[4 : 4 + length]))
            del self.buf[: 4 + length]
        return out

    def finish(self):
        if self.buf:
            raise SystemExit(f"{self.what}: {len(self.buf)} stray bytes at the end of the stream")


class Recorder:
    """Collects calls and replies from any number of connections, numbering calls in order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []  # (conn, xid, body)
        self.replies = {}  # (conn, xid) -> body

    def add_call(self, conn, body):
        (xid,) = struct.unpack_from(">I", body, 0)
        with self.lock:
            self.calls.append((conn, xid, body))

    def add_reply(self, conn, body):
        (xid,) = struct.unpack_from(">I", body, 0)
        with self.lock:
            if (conn, xid) in self.replies:
                raise SystemExit(f"two replies for xid {xid} on connection {conn}")
            self.replies[(conn, xid)] = body

    def write(self, outdir, slug):
        stray = set(self.replies) - {(c, x) for c, x, _ in self.calls}
        # A reply with xid 0 answers a call glusterd could not even decode (GARBAGE_ARGS xid 0):
        # it is matched to the last unanswered call on its connection.
        for conn, xid in sorted(stray):
            if xid == 0:
                for c, x, _ in reversed(self.calls):
                    if c == conn and (c, x) not in self.replies:
                        self.replies[(c, x)] = self.replies.pop((conn, 0))
                        break
        stray = set(self.replies) - {(c, x) for c, x, _ in self.calls}
        if stray:
            raise SystemExit(f"{slug}: replies with no matching call: {sorted(stray)}")
        replied = 0
        for n, (conn, xid, body) in enumerate(self.calls, start=1):
            base = os.path.join(outdir, f"{slug}.{n}")
            with open(base + ".call.bin", "wb") as f:
                f.write(body)
            key, lines = describe_call(body)
            lines.insert(1, f"connection {conn}, call {n} of {len(self.calls)}")
            with open(base + ".call.dict.txt", "w") as f:
                f.write("\n".join(lines) + "\n")
            reply = self.replies.get((conn, xid))
            if reply is None:
                with open(base + ".reply.dict.txt", "w") as f:
                    f.write(f"# NO REPLY: glusterd sent nothing for xid {xid} "
                            f"before the connection closed\n")
                continue
            replied += 1
            with open(base + ".reply.bin", "wb") as f:
                f.write(reply)
            with open(base + ".reply.dict.txt", "w") as f:
                f.write("\n".join(describe_reply(reply, key)) + "\n")
        return len(self.calls), replied


def pump(src, dst, splitter, sink, conn):
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            for body in splitter.feed(chunk):
                sink(conn, body)
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def cmd_run(outdir, slug, target, argv):
    tmpdir = tempfile.mkdtemp(prefix="capcli-relay.")
    listen_path = os.path.join(tmpdir, "relay.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(listen_path)
    server.listen(16)
    server.settimeout(0.2)
    rec = Recorder()
    threads, splitters, socks = [], [], []
    argv = [a.replace("{SOCK}", listen_path) for a in argv]
    with open(os.path.join(outdir, f"{slug}.stdout.txt"), "wb") as out, \
            open(os.path.join(outdir, f"{slug}.stderr.txt"), "wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        conn = 0
        deadline = time.time() + 300
        while True:
            try:
                client, _ = server.accept()
            except socket.timeout:
                if proc.poll() is not None or time.time() > deadline:
                    break
                continue
            conn += 1
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(target)
            socks += [client, upstream]
            cs, us = RecordSplitter(f"{slug} calls"), RecordSplitter(f"{slug} replies")
            splitters += [cs, us]
            for args in ((client, upstream, cs, rec.add_call, conn),
                         (upstream, client, us, rec.add_reply, conn)):
                t = threading.Thread(target=pump, args=args, daemon=True)
                t.start()
                threads.append(t)
        if proc.poll() is None:
            proc.kill()
        rc = proc.wait()
    for t in threads:
        t.join(timeout=10)
    for s in socks:
        s.close()
    server.close()
    os.unlink(listen_path)
    os.rmdir(tmpdir)
    for s in splitters:
        s.finish()
    errpath = os.path.join(outdir, f"{slug}.stderr.txt")
    if os.path.getsize(errpath) == 0:
        os.unlink(errpath)
    n, replied = rec.write(outdir, slug)
    print(f"{slug}\t{rc}\t{n}\t{replied}")


def recv_one_record(sock, timeout_s=5.0):
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


# name -> (description, call body). xid 2: the first xid a libgfrpc client uses.
def get_volume(pairs):
    return call(2, CLI_PROG, CLI_VERS, 5, opaque(serialize_dict(pairs)))


PROBES = {
    # GET_VOLUME flags=1 (GF_CLI_GET_VOLUME_ALL): never sent by the CLI.
    "get-volume-flags1": get_volume([("flags", "1")]),
    # GET_VOLUME flags=3 (next) after a name that does not exist.
    "get-volume-next-nosuch": get_volume([("volname", "nosuch"), ("flags", "3")]),
    # GET_VOLUME flags=3 after the last volume in the iteration order.
    "get-volume-next-last": get_volume([("volname", "ta"), ("flags", "3")]),
    # GET_VOLUME flags=2 without a volname.
    "get-volume-flags2-novolname": get_volume([("flags", "2")]),
    # FSM_LOG with an empty name (what `system:: fsm log` sends, see system-fsm-log).
    "fsm-log-empty-name": call(2, CLI_PROG, CLI_VERS, 21, xdr_string("")),
    # FSM_LOG naming the peer.
    "fsm-log-node-b": call(2, CLI_PROG, CLI_VERS, 21, xdr_string("node-b")),
    # LIST_VOLUME with a dict of count 0 instead of an empty opaque.
    "list-volume-count0": call(2, CLI_PROG, CLI_VERS, 33, opaque(serialize_dict([]))),
    # GET_VOLUME whose dict has a volname but no flags.
    "get-volume-no-flags": get_volume([("volname", "arb")]),
}


def cmd_probe(outdir, slug, target, name):
    body = PROBES[name]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(target)
    sock.sendall(struct.pack(">I", LAST_FRAGMENT | len(body)) + body)
    raw = recv_one_record(sock)
    sock.close()
    rec = Recorder()
    rec.add_call(1, body)
    splitter = RecordSplitter(f"{slug} reply")
    for r in splitter.feed(raw):
        rec.add_reply(1, r)
    splitter.finish()
    n, replied = rec.write(outdir, slug)
    print(f"{slug}\t-\t{n}\t{replied}")


def cmd_pcap(pcap, server_port, outdir, slug):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y", "tcp.len > 0", "-T", "fields",
         "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.payload"],
        check=True, capture_output=True, text=True,
    ).stdout
    rec = Recorder()
    splitters = {}
    for line in out.splitlines():
        stream, srcport, payload = line.split("\t")
        data = bytes.fromhex(payload.replace(":", ""))
        to_server = int(srcport) != int(server_port)
        key = (int(stream), to_server)
        if key not in splitters:
            splitters[key] = RecordSplitter(f"{slug} stream {stream}")
        for body in splitters[key].feed(data):
            (rec.add_call if to_server else rec.add_reply)(int(stream) + 1, body)
    for s in splitters.values():
        s.finish()
    n, replied = rec.write(outdir, slug)
    print(f"{slug}\t-\t{n}\t{replied}")


def cmd_decode(path):
    with open(path, "rb") as f:
        body = f.read()
    (mtype,) = struct.unpack_from(">I", body, 4)
    if mtype == 0:
        print("\n".join(describe_call(body)[1]))
    else:
        print("\n".join(describe_reply(body, (0, 0, 0))))


def cmd_same(path_a, path_b):
    """Prints how two record bodies compare: a transaction_id (random per call) is ignored."""
    with open(path_a, "rb") as f:
        a = f.read()
    with open(path_b, "rb") as f:
        b = f.read()
    if a == b:
        print("identical")
        return

    (mtype,) = struct.unpack_from(">I", a, 4)
    if mtype == 0:
        key = None
    else:
        # A reply is decoded by the procedure of its call, stored next to it.
        call_path = path_b.replace(".reply.bin", ".call.bin")
        if not os.path.exists(call_path):
            print("DIFFERENT")
            return
        with open(call_path, "rb") as f:
            key = describe_call(f.read())[0]

    def masked(body):
        lines = describe_call(body)[1] if key is None else describe_reply(body, key)
        return [line for line in lines if not line.startswith("  transaction_id = ")]

    if len(a) == len(b) and masked(a) == masked(b):
        print("identical except transaction_id")
    else:
        print("DIFFERENT")


def main(argv):
    if len(argv) >= 5 and argv[0] == "run" and argv[4] == "--":
        cmd_run(argv[1], argv[2], argv[3], argv[5:])
    elif len(argv) == 5 and argv[0] == "probe":
        cmd_probe(*argv[1:])
    elif len(argv) == 5 and argv[0] == "pcap":
        cmd_pcap(*argv[1:])
    elif len(argv) == 3 and argv[0] == "same":
        cmd_same(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "decode":
        cmd_decode(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
PY

# --- private paths ------------------------------------------------------------------------------
mount -t tmpfs -o mode=0755,size=64m capcli "$ROOT"
MOUNTS+=("$ROOT")
mkdir -p /run/gluster
mount -t tmpfs -o mode=0775,size=16m capcli-run /run/gluster
MOUNTS+=(/run/gluster)
cat >"$WORK/hosts" <<HOSTS
127.0.0.1 localhost
$ADDR_A node-a
$ADDR_B node-b
HOSTS
mount --bind "$WORK/hosts" /etc/hosts
MOUNTS+=(/etc/hosts)

# --- network: node-a and node-b, each in its own namespace --------------------------------------
log "network namespaces $NS_A ($ADDR_A) and $NS_B ($ADDR_B)"
ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add capcli-va netns "$NS_A" type veth peer name capcli-vb netns "$NS_B"
ip -n "$NS_A" addr add "$ADDR_A/24" dev capcli-va
ip -n "$NS_B" addr add "$ADDR_B/24" dev capcli-vb
for ns in "$NS_A" "$NS_B"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_A" link set capcli-va up
ip -n "$NS_B" link set capcli-vb up

# --- node-a's workdir (a copy of the fixture) and its brick directories --------------------------
mkdir -p "$ROOT/a/lib" "$ROOT/a/run" "$ROOT/a/log"
cp -a "$FIXTURE/." "$ROOT/a/lib/"
A_UUID=$(sed -n 's/^UUID=//p' "$ROOT/a/lib/glusterd.info")
log "node-a $A_UUID: brick directories"
for d in $(sed -n 's/^path=//p' "$ROOT"/a/lib/vols/*/bricks/* | xargs -n1 dirname | sort -u); do
    mkdir -p "$d"
    mount -t tmpfs -o size=16m "capcli-$(basename "$d")" "$d"
    MOUNTS+=("$d")
done
for vol_dir in "$ROOT"/a/lib/vols/*; do
    vid=$(sed -n 's/^volume-id=//p' "$vol_dir/info")
    for b in "$vol_dir"/bricks/*; do
        path=$(sed -n 's/^path=//p' "$b")
        mkdir -p "$path"
        setfattr -n trusted.glusterfs.volume-id -v "0x${vid//-/}" "$path"
        mkdir -m 0600 "$path/.glusterfs"
    done
done

# --- the glusterds ------------------------------------------------------------------------------
start_glusterd() { # $1 = name (a|b), $2 = namespace
    local dir=$ROOT/$1
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
        -l "$dir/log/glusterd.log" &
    wait_for "glusterd $1's unix socket" 20 test -S "$dir/run/glusterd.socket"
    wait_for "glusterd $1's TCP port" 20 \
        bash -c "ip netns exec $2 ss -Hltn 'sport = :24007' | grep -q LISTEN"
}

B_UUID=$(sed -n 's/^uuid=//p' "$ROOT"/a/lib/peers/* | head -1)
if [ "$NODE_B" = up ]; then
    log "node-b $B_UUID: workdir rebuilt from node-a's"
    mkdir -p "$ROOT/b/lib/peers" "$ROOT/b/run" "$ROOT/b/log"
    printf 'UUID=%s\noperating-version=%s\n' "$B_UUID" \
        "$(sed -n 's/^operating-version=//p' "$ROOT/a/lib/glusterd.info")" >"$ROOT/b/lib/glusterd.info"
    cp -a "$FIXTURE/glusterd.upgrade" "$FIXTURE/options" "$FIXTURE/vols" "$FIXTURE/snaps" "$ROOT/b/lib/"
    # A probed peer records the prober under the address it came from.
    printf 'uuid=%s\nstate=3\nhostname1=%s\n' "$A_UUID" "$ADDR_A" >"$ROOT/b/lib/peers/$A_UUID"
    chmod 0600 "$ROOT/b/lib/glusterd.info" "$ROOT/b/lib/peers/$A_UUID"
    start_glusterd b "$NS_B"
fi
log "node-a"
start_glusterd a "$NS_A"
SOCK_A=$ROOT/a/run/glusterd.socket

gcli() { # the CLI straight to node-a (not recorded), inside node-a's namespace
    ip netns exec "$NS_A" gluster --glusterd-sock="$SOCK_A" --log-file="$ROOT/a/log/cli.log" \
        --mode=script "$@"
}
if [ "$NODE_B" = up ]; then
    peer_connected() {
        gcli peer status >"$WORK/last-wait.txt" 2>&1 || true
        grep -q 'Peer in Cluster (Connected)' "$WORK/last-wait.txt"
    }
    wait_for "node-b to be connected" 60 peer_connected
fi
started_bricks_online() {
    gcli volume status started >"$WORK/last-wait.txt" 2>&1 || true
    [ "$(grep -cE '^Brick .*[[:space:]]Y[[:space:]]+[0-9]+[[:space:]]*$' "$WORK/last-wait.txt")" -eq \
        "$(ls "$ROOT/a/lib/vols/started/bricks" | wc -l)" ]
}
wait_for "the bricks of 'started' to come online" 60 started_bricks_online

# --- 1. the real CLI through the recording relay -------------------------------------------------
log "captures into $OUT"
find "$OUT" -mindepth 1 ! -name README.md -delete
touch "$OUT/.capture-cli-replies"
mkdir -p "$OUT/tcp"
printf 'slug\texit\tcalls\treplies\tcommand\n' >"$OUT/index.tsv"

# $1 = slug, rest = CLI arguments
capture() {
    local slug=$1 line
    shift
    line=$(python3 "$WORK/capcli.py" run "$OUT" "$slug" "$SOCK_A" -- \
        ip netns exec "$NS_A" gluster --glusterd-sock='{SOCK}' \
        --log-file="$ROOT/a/log/cli.log" --mode=script "$@")
    printf '%s\tgluster --mode=script %s\n' "$line" "$*" >>"$OUT/index.tsv"
    printf '  %s\n' "$line" >&2
}

mapfile -t VOLUMES < <(ls "$ROOT/a/lib/vols" | LC_ALL=C sort)
for xml in "" "--xml"; do
    p=${xml:+xml-}
    capture "${p}volume-info" volume info $xml
    capture "${p}volume-info-all" volume info all $xml
    for vol in "${VOLUMES[@]}"; do
        capture "${p}volume-info-$vol" volume info "$vol" $xml
    done
    capture "${p}volume-info-nosuch" volume info nosuch $xml
    capture "${p}volume-list" volume list $xml
    capture "${p}peer-status" peer status $xml
    capture "${p}pool-list" pool list $xml
    capture "${p}system-uuid-get" system:: uuid get $xml
    capture "${p}volume-status" volume status $xml
    capture "${p}volume-status-all" volume status all $xml
    for vol in "${VOLUMES[@]}"; do
        capture "${p}volume-status-$vol" volume status "$vol" $xml
    done
    capture "${p}volume-status-nosuch" volume status nosuch $xml
    capture "${p}volume-status-started-detail" volume status started detail $xml
    capture "${p}volume-status-started-tasks" volume status started tasks $xml
    capture "${p}volume-status-started-brick" volume status started node-a:$ROOT/d4/started $xml
    capture "${p}system-getwd" system:: getwd $xml
    capture "${p}system-fsm-log" system:: fsm log $xml
    capture "${p}volume-get-opts-cache-size" volume get opts performance.cache-size $xml
done
capture system-getspec-started system:: getspec started

# --- 2. hand-made calls --------------------------------------------------------------------------
log "hand-made calls"
for probe in get-volume-flags1 get-volume-next-nosuch get-volume-next-last \
    get-volume-flags2-novolname get-volume-no-flags fsm-log-empty-name fsm-log-node-b \
    list-volume-count0; do
    line=$(python3 "$WORK/capcli.py" probe "$OUT" "probe-$probe" "$SOCK_A" "$probe")
    printf '%s\t(hand-made call, see capcli.py PROBES)\n' "$line" >>"$OUT/index.tsv"
    printf '  %s\n' "$line" >&2
done

# --- 3. the same commands over TCP ---------------------------------------------------------------
log "TCP: gluster --remote-host=127.0.0.1 inside $NS_A, tcpdump on its lo"
mkdir -p "$WORK/tcp"
printf 'slug\trecord\tresult\n' >"$OUT/tcp-compare.tsv"
capture_tcp() { # $1 = slug (as in the unix capture), rest = CLI arguments
    local slug=$1 pcap=$WORK/tcp/$1.pcap f base rel result
    shift
    ip netns exec "$NS_A" tcpdump -i lo --immediate-mode -U -w "$pcap" \
        'host 127.0.0.1 and tcp port 24007' >"$pcap.log" 2>&1 &
    TCPDUMP_PID=$!
    wait_for "tcpdump" 10 grep -q "listening on" "$pcap.log"
    ip netns exec "$NS_A" gluster --remote-host=127.0.0.1 --log-file="$ROOT/a/log/cli.log" \
        --mode=script "$@" >"$WORK/tcp/$slug.stdout.txt" 2>"$WORK/tcp/$slug.stderr.txt" || true
    sleep 1
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=
    python3 "$WORK/capcli.py" pcap "$pcap" 24007 "$WORK/tcp" "$slug" >/dev/null
    for f in "$WORK/tcp/$slug".*.bin; do
        base=$(basename "$f")
        if [ -e "$OUT/$base" ]; then
            result=$(python3 "$WORK/capcli.py" same "$f" "$OUT/$base")
        else
            result="DIFFERENT"
        fi
        if [ "$result" = DIFFERENT ]; then
            result="DIFFERENT (kept in tcp/)"
            rel=${base%.bin}
            cp "$f" "$OUT/tcp/$base"
            cp "$WORK/tcp/$rel.dict.txt" "$OUT/tcp/$rel.dict.txt"
        fi
        printf '%s\t%s\t%s\n' "$slug" "$base" "$result" >>"$OUT/tcp-compare.tsv"
    done
    for f in "$OUT/$slug".*.bin; do
        base=$(basename "$f")
        [ -e "$WORK/tcp/$base" ] ||
            printf '%s\t%s\tMISSING over TCP\n' "$slug" "$base" >>"$OUT/tcp-compare.tsv"
    done
    if ! cmp -s "$WORK/tcp/$slug.stdout.txt" "$OUT/$slug.stdout.txt"; then
        printf '%s\tstdout\tDIFFERENT (kept in tcp/)\n' "$slug" >>"$OUT/tcp-compare.tsv"
        cp "$WORK/tcp/$slug.stdout.txt" "$OUT/tcp/"
        [ -s "$WORK/tcp/$slug.stderr.txt" ] && cp "$WORK/tcp/$slug.stderr.txt" "$OUT/tcp/"
    fi
    printf '  tcp %s\n' "$slug" >&2
}
capture_tcp volume-info volume info
for vol in "${VOLUMES[@]}"; do
    capture_tcp "volume-info-$vol" volume info "$vol"
done
capture_tcp volume-info-nosuch volume info nosuch
capture_tcp volume-list volume list
capture_tcp peer-status peer status
capture_tcp pool-list pool list
capture_tcp system-uuid-get system:: uuid get
capture_tcp volume-status volume status
capture_tcp volume-status-started volume status started
capture_tcp volume-status-stopped volume status stopped
capture_tcp system-getwd system:: getwd
capture_tcp system-fsm-log system:: fsm log
capture_tcp volume-get-opts-cache-size volume get opts performance.cache-size
rmdir "$OUT/tcp" 2>/dev/null || true

# --- what glusterd changed in its copy of the fixture --------------------------------------------
{ diff -rq "$FIXTURE" "$ROOT/a/lib" || true; } |
    sed "s|$FIXTURE|fixture|g; s|$ROOT/a/lib|copy|g" | LC_ALL=C sort >"$OUT/workdir-changes.txt"

# --- 4. node-b down ------------------------------------------------------------------------------
if [ "$NODE_B" = up ]; then
    log "stopping node-b"
    kill_pidfile "$ROOT/b/run/glusterd.pid"
    peer_disconnected() {
        gcli peer status >"$WORK/last-wait.txt" 2>&1 || true
        grep -q 'Peer in Cluster (Disconnected)' "$WORK/last-wait.txt"
    }
    wait_for "node-a to see node-b disconnected" 60 peer_disconnected
    for xml in "" "--xml"; do
        p=${xml:+xml-}
        capture "nodeb-down-${p}peer-status" peer status $xml
        capture "nodeb-down-${p}pool-list" pool list $xml
        capture "nodeb-down-${p}volume-status" volume status $xml
        capture "nodeb-down-${p}volume-status-started" volume status started $xml
    done
fi

# --- the CLI's text against the fixture's (made with both nodes up, bricks on XFS) ---------------
{
    printf 'slug\tresult\n'
    for f in "$FIXTURE_CLI"/*.txt; do
        slug=$(basename "$f" .txt)
        case $slug in *.stderr) continue ;; esac
        [ -e "$OUT/$slug.stdout.txt" ] || continue
        if cmp -s "$f" "$OUT/$slug.stdout.txt"; then
            printf '%s\tstdout identical\n' "$slug"
        else
            printf '%s\tstdout DIFFERS: %s\n' "$slug" \
                "$(diff "$f" "$OUT/$slug.stdout.txt" | grep -c '^[<>]') lines"
        fi
    done
} >"$OUT/fixture-compare.tsv"

{
    echo "captured: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "glusterd: $(glusterd --version | head -1)"
    echo "package: $(dpkg-query -W -f='${Package} ${Version}' glusterfs-server 2>/dev/null || echo unknown)"
    echo "cli package: $(dpkg-query -W -f='${Package} ${Version}' glusterfs-cli 2>/dev/null || echo unknown)"
    echo "kernel: $(uname -r)"
    echo "fixture: tests/fixtures/workdirs/glusterd-10.3 (copied to $ROOT/a/lib)"
    echo "paths: private mount namespace; tmpfs on $ROOT and /run/gluster; /etc/hosts = node-a $ADDR_A, node-b $ADDR_B"
    echo "node-a: UUID $A_UUID, $ADDR_A, network namespace $NS_A, glusterd on 24007 there, workdir $ROOT/a/lib"
    if [ "$NODE_B" = up ]; then
        echo "node-b: UUID $B_UUID, $ADDR_B, network namespace $NS_B, UP (workdir rebuilt from node-a's) for every capture except nodeb-down-*, stopped for those"
    else
        echo "node-b: UUID $B_UUID, $ADDR_B, NOT started (Disconnected) for every capture"
    fi
    echo "bricks: every brick directory on tmpfs ($ROOT/d0..d5) with its volume-id xattr; the bricks of 'started' were running (glusterd restarted them)"
} >"$OUT/capture-info.txt"
chown -R --reference="$REPO" "$OUT" 2>/dev/null || true
log "done: $(($(wc -l <"$OUT/index.tsv") - 1)) commands and probes, files in $OUT"
