#!/usr/bin/env python3
"""Derives brickd's `volume set` option table from experiments against a REAL glusterd 10.3.

Nothing here comes from glusterfs sources: every fact is what the installed binaries
(glusterd, gluster) answer. The script starts PRIVATE glusterd instances (never the system
one), bound to 127.77.0.1, with their working/run directories under --base (default
/tmp/optable), drives them with `gluster --glusterd-sock=... --mode=script`, and kills them
(and every brick/shd/snapd process they spawned, by pid) at the end or on error.

Phases (each starts its own fresh glusterd; state is kept as JSON in BASE/state so phases
can be re-run one at a time):

  A  discovery + per-key probes on stopped volumes: distribute (d), replica 3 (r3),
     disperse 3 redundancy 1 (e), arbiter (a), 2x3 distributed-replicate (dr); then the
     "toggled" distribute volume dx (every xlator-adding toggle switched on) for the keys
     whose values are not validated on the plain graphs; global keys via `volume set all`;
     groups, short keys, user.* keys, unknown keys, double sets, reset all/force.
  S  started pass: replica 3 volume started with force; every key set (valid sample) and
     reset, diffing the shd volfile and noting refusals that only happen when started.
  B  op-version pass: glusterd started with a lowered cluster op-version (--low-op, default
     1) written to glusterd.info; each key set once, alone, on its own volume (all created
     up front at the low op-version), reading op-version= and client-op-version= from
     vols/VOL/info and the cluster op-version from glusterd.info. B0 first finds the keys that
     land in every volume when set on one; each of those gets a glusterd of its own (B2).
  O  ordering experiments for `volume info` "Options Reconfigured" and vols/VOL/info
     (create, set new/existing, reset, start, stop, glusterd restarts).
  N  number formats: octal/hex/signs/suffixes/case on a few keys (numbers.jsonl).
  T  analysis: writes src/volopt/table.tsv and tests/golden/volopt/*.

Usage: sudo python3 scripts/optable/probe.py [--phases AOSBT] [--base /tmp/optable]
       [--repo .] [--low-op 1] [--only KEY,KEY [--merge]]

`--phases A --only K1,K2 --merge` re-probes just those keys (volume or global) and merges
them into BASE/state/A.json (used after adding OVERRIDES/PREREQ entries); then run
`--phases T` (and S/B if their valid samples changed).
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET

BIND = "127.77.0.1"
GLUSTERD_SO = "/usr/lib/x86_64-linux-gnu/glusterfs/10.3/xlator/mgmt/glusterd.so"
SYS_GROUPS = "/var/lib/glusterd/groups"

BOOL_WORDS = {"1", "on", "yes", "true", "enable", "0", "off", "no", "false", "disable"}
FLIP = {
    "on": "off", "off": "on", "yes": "no", "no": "yes", "true": "false", "false": "true",
    "enable": "disable", "disable": "enable", "1": "0", "0": "1",
}

# Invalid values tried on every key, per volume type. "" is refused by the CLI itself
# (probed once in the misc section).
INVALID_FULL = ["abc", "-1", "0", "1.5", "150%", "10GB", "1000000000000",
                "99999999999999999999"]
INVALID_SHORT = ["abc", "-1", "0", "1.5", "150%", "10GB", "1000000000000"]

# Valid samples to try first for keys whose default gives no hint (null / free text). These
# are our own choices of plausible values, checked against glusterd (a refused one is simply
# skipped and recorded).
OVERRIDES = {
    "auth.allow": ["127.0.0.1"],
    "auth.reject": ["10.9.9.9"],
    "auth.ssl-allow": ["client-a"],
    "cluster.subvols-per-directory": ["1"],
    "cluster.rsync-hash-regex": ["^\\.(.+)\\.[^.]+$"],
    "cluster.extra-hash-regex": ["^(.+)\\.tmp$"],
    "cluster.dht-xattr-name": ["trusted.glusterfs.dht2"],
    "cluster.local-volume-name": ["VOL-client-0"],
    "cluster.switch-pattern": ["*.txt:VOL-client-0"],
    "cluster.read-subvolume": ["VOL-client-1"],
    "cluster.read-subvolume-index": ["1"],
    "cluster.quorum-count": ["2"],
    "cluster.quorum-type": ["fixed", "auto"],
    "cluster.favorite-child-policy": ["mtime"],
    "cluster.data-self-heal-algorithm": ["full", "diff"],
    "performance.cache-priority": ["*.jpg:2"],
    "performance.xattr-cache-list": ["user.foo"],
    "performance.iot-watchdog-secs": ["10"],
    "ssl.own-cert": ["/tmp/optable/ssl/own.pem"],
    "ssl.private-key": ["/tmp/optable/ssl/key.pem"],
    "ssl.ca-list": ["/tmp/optable/ssl/ca.pem"],
    "ssl.crl-path": ["/tmp/optable/ssl/crl"],
    "ssl.certificate-depth": ["2"],
    "ssl.cipher-list": ["HIGH:!SSLv2"],
    "ssl.dh-param": ["/tmp/optable/ssl/dh.pem"],
    "ssl.ec-curve": ["prime256v1"],
    "server.statedump-path": ["/tmp/optable/statedump"],
    "server.own-thread": ["on"],
    "client.bind-insecure": ["on"],
    "network.tcp-window-size": ["1048576"],
    "debug.exclude-ops": ["write"],
    "debug.include-ops": ["read"],
    "debug.error-failure": ["50"],
    "debug.error-number": ["EIO"],
    "debug.error-fops": ["read"],
    "features.failover-hosts": ["127.77.0.1"],
    "features.cloudsync-storetype": ["cloudsyncs3"],
    "features.cloudsync-store-id": ["store-1"],
    "features.cloudsync-product-id": ["product-1"],
    "delay-gen.enable": ["read"],
    "debug.trace": ["posix", "client"],
    "debug.error-gen": ["posix", "client"],
    "debug.delay-gen": ["posix", "client"],
    "diagnostics.brick-logger": ["syslog", "gluster-log"],
    "diagnostics.client-logger": ["syslog", "gluster-log"],
    "diagnostics.brick-log-format": ["no-msg-id", "with-msg-id"],
    "diagnostics.client-log-format": ["no-msg-id", "with-msg-id"],
    "changelog.changelog-dir": ["/tmp/optable/changelogs"],
    "features.trash-dir": ["trashbin"],
    "features.trash-eliminate-path": ["/skip"],
    "features.snapshot-directory": [".snapshots"],
    "features.tag-namespaces": ["on"],
    "storage.owner-uid": ["1000"],
    "storage.owner-gid": ["1000"],
    "storage.gfid2path-separator": ["|"],
    "storage.force-create-mode": ["0644"],
    "storage.force-directory-mode": ["0755"],
    "storage.create-mask": ["0755"],
    "storage.create-directory-mask": ["0755"],
    "transport.address-family": ["inet6"],
    "config.transport": ["rdma", "tcp,rdma"],
    "config.memory-accounting": ["on"],
    "nfs.rpc-auth-allow": ["127.0.0.1"],
    "nfs.rpc-auth-reject": ["10.9.9.9"],
    "nfs.export-dir": ["/sub"],
    "nfs.mount-rmtab": ["/tmp/optable/rmtab"],
    "ganesha.enable": ["on"],
    "features.default-retention-period": ["121"],
    "features.auto-commit-period": ["181"],
    "cluster.halo-enabled": ["True", "on"],
    "cluster.op-version": [],
    "cluster.max-op-version": [],
    "cluster.server-quorum-ratio": ["60"],
    "cluster.daemon-log-level": ["DEBUG"],
}

# Keys whose probe needs another key first (set before, removed by the restore step).
PREREQ = {
    "features.trash-dir": [("features.trash", "on")],
    # debug.trace / error-gen / delay-gen take the xlator to wrap ("posix", "client", ...);
    # their sub-options are only checked once that xlator is in the graph
    "debug.log-history": [("debug.trace", "posix")],
    "debug.log-file": [("debug.trace", "posix")],
    "debug.exclude-ops": [("debug.trace", "posix")],
    "debug.include-ops": [("debug.trace", "posix")],
    "debug.error-failure": [("debug.error-gen", "posix")],
    "debug.error-number": [("debug.error-gen", "posix")],
    "debug.random-failure": [("debug.error-gen", "posix")],
    "debug.error-fops": [("debug.error-gen", "posix")],
    "delay-gen.delay-percentage": [("debug.delay-gen", "posix")],
    "delay-gen.delay-duration": [("debug.delay-gen", "posix")],
    "delay-gen.enable": [("debug.delay-gen", "posix")],
}

GLOBAL_PREREQ = {
    "glusterd.vol_count_per_thread": [("cluster.brick-multiplex", "on")],
    "cluster.max-bricks-per-process": [("cluster.brick-multiplex", "on")],
}

# Keys never set with a valid value in the *started* pass (they would change how the
# running bricks/shd talk to each other and wedge the pass).
STARTED_SKIP = {
    "transport.address-family", "server.ssl", "client.ssl", "config.transport",
    "auth.allow", "auth.reject", "ssl.own-cert", "ssl.private-key", "ssl.ca-list",
    "ssl.crl-path", "ssl.cipher-list", "ssl.dh-param", "ssl.ec-curve",
    "ssl.certificate-depth", "auth.ssl-allow", "server.allow-insecure",
    "client.bind-insecure", "transport.listen-backlog",
}

BASE_FIELDS = {}  # (glusterd dir, volume) -> non-option fields of vols/VOL/info at creation

VOLTYPES = {
    # name: (volume name, create args after the name, number of bricks)
    "dist": ("d", [], 1),
    "rep3": ("r3", ["replica", "3"], 3),
    "disp": ("e", ["disperse", "3", "redundancy", "1"], 3),
    "arbiter": ("a", ["replica", "3", "arbiter", "1"], 3),
    "distrep": ("dr", ["replica", "3"], 6),
}


def log(*a):
    print("[probe %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# glusterd instance


class Glusterd:
    def __init__(self, base, name, op_version=None):
        self.dir = os.path.join(base, name)
        self.w = os.path.join(self.dir, "w")
        self.r = os.path.join(self.dir, "r")
        self.l = os.path.join(self.dir, "l")
        self.b = os.path.join(self.dir, "b")
        self.sock = os.path.join(self.r, "glusterd.socket")
        self.pidfile = os.path.join(self.dir, "glusterd.pid")
        self.op_version = op_version
        self.proc = None
        self.calls = 0
        self.sockets_seen = set()

    def fresh(self):
        if os.path.exists(self.dir):
            self.sweep()
            shutil.rmtree(self.dir)
        for d in (self.w, self.r, self.l, self.b):
            os.makedirs(d)
        if self.op_version is not None:
            with open(os.path.join(self.w, "glusterd.info"), "w") as f:
                f.write("UUID=%s\noperating-version=%d\n" % (uuid.uuid4(), self.op_version))

    def start(self):
        cmd = [
            "glusterd", "-N",
            "--xlator-option", "management.transport.socket.bind-address=" + BIND,
            "--xlator-option", "management.working-directory=" + self.w,
            "--xlator-option", "management.run-directory=" + self.r,
            "--xlator-option", "management.glusterd-sockfile=" + self.sock,
            "--pid-file=" + self.pidfile,
            "--log-file=" + os.path.join(self.l, "glusterd.log"),
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("glusterd exited with %s; see %s" % (self.proc.returncode, self.l))
            if os.path.exists(self.sock):
                rc, _, _ = self.cli("volume", "list")
                if rc == 0:
                    return
            time.sleep(0.3)
        raise RuntimeError("glusterd did not come up")

    def stop_glusterd(self):
        """SIGTERM glusterd only (bricks stay up, like `systemctl stop glusterd`)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def our_pids(self):
        """Processes whose command line names this instance's directory (bricks, shd,
        snapd, gfproxyd started by our glusterd), except glusterd itself."""
        out = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    cl = f.read().split(b"\0")
            except OSError:
                continue
            args = [a.decode("utf-8", "replace") for a in cl]
            if any(self.dir + "/" in a for a in args) and int(p) != os.getpid():
                out.append((int(p), args))
        return out

    def sweep(self):
        """Stops what our glusterd left running, by pid; removes their unix sockets."""
        self.stop_glusterd()
        for _ in range(3):
            pids = self.our_pids()
            if not pids:
                break
            for pid, args in pids:
                for i, a in enumerate(args):
                    if a == "-S" and i + 1 < len(args):
                        self.sockets_seen.add(args[i + 1])
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            time.sleep(2)
        for pid, _ in self.our_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for s in self.sockets_seen:
            if s.startswith("/var/run/gluster/") and os.path.exists(s):
                try:
                    os.unlink(s)
                except OSError:
                    pass

    def cli(self, *args, timeout=180):
        argv = ["gluster", "--glusterd-sock=" + self.sock, "--mode=script",
                "--log-file=" + os.path.join(self.l, "cli.log")] + list(args)
        self.calls += 1
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout)
            return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            return None, "", "TIMEOUT"

    # -- helpers reading the working directory directly
    def info_path(self, vol):
        return os.path.join(self.w, "vols", vol, "info")

    def read_info(self, vol):
        with open(self.info_path(vol)) as f:
            return f.read()

    def info_options(self, vol):
        """[(key, value)] in file order: lines of vols/VOL/info whose key has a dot."""
        out = []
        for line in self.read_info(vol).splitlines():
            k, sep, v = line.partition("=")
            if sep and "." in k:
                out.append((k, v))
        return out

    def info_fields(self, vol):
        out = {}
        for line in self.read_info(vol).splitlines():
            k, sep, v = line.partition("=")
            if sep and "." not in k:
                out[k] = v
        return out

    def snapshot(self, vol):
        """Every file that a set could change: vols/VOL/**, options, daemon dirs."""
        snap = {}
        roots = [os.path.join(self.w, "vols", vol), os.path.join(self.w, "options")]
        for d in ("glustershd", "nfs", "bitd", "scrub", "quotad"):
            roots.append(os.path.join(self.w, d))
        for root in roots:
            if os.path.isfile(root):
                with open(root, errors="replace") as f:
                    snap[os.path.relpath(root, self.w)] = f.read()
                continue
            for dp, _, fns in os.walk(root):
                for fn in fns:
                    p = os.path.join(dp, fn)
                    try:
                        with open(p, errors="replace") as f:
                            snap[os.path.relpath(p, self.w)] = f.read()
                    except OSError:
                        pass
        return snap


# ---------------------------------------------------------------------------------------
# recording


class Recorder:
    def __init__(self):
        self.files = {}

    def add(self, fname, g, args, rc, out, err, **extra):
        r = {"argv": list(args), "rc": rc, "stdout": out, "stderr": err}
        r.update(extra)
        self.files.setdefault(fname, []).append(r)
        return r

    def run(self, fname, g, *args, **extra):
        rc, out, err = g.cli(*args)
        self.add(fname, g, args, rc, out, err, **extra)
        return rc, out, err


def dump_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
    os.replace(path + ".tmp", path)


def load_json(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------
# parsing


def parse_get_xml(text):
    """[(key, value)] from `volume get ... --xml`."""
    out = []
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return out
    for opt in root.iter("Opt"):
        k = opt.findtext("Option")
        v = opt.findtext("Value")
        out.append((k, v if v is not None else ""))
    return out


def split_default(v):
    if v.endswith(" (DEFAULT)"):
        return v[: -len(" (DEFAULT)")], True
    if v == "(DEFAULT)":
        return "", True
    return v, False


def parse_volfile(text):
    """{name: {"type": t, "options": {k: v}, "subvolumes": s, "pos": i}}"""
    blocks = {}
    cur = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("volume "):
            cur = {"type": None, "options": {}, "subvolumes": None, "pos": len(blocks)}
            blocks[s[7:].strip()] = cur
        elif s == "end-volume":
            cur = None
        elif cur is not None:
            if s.startswith("type "):
                cur["type"] = s[5:].strip()
            elif s.startswith("option "):
                k, _, v = s[7:].partition(" ")
                cur["options"][k] = v
            elif s.startswith("subvolumes "):
                cur["subvolumes"] = s[11:].strip()
    return blocks


def file_kind(rel, vol):
    base = os.path.basename(rel)
    if rel == "options":
        return "global-options"
    if rel.startswith("vols/%s/bricks/" % vol):
        return "brickinfo"
    if rel.startswith("vols/"):
        if base == "info":
            return "info"
        if base in ("cksum", "node_state.info", "snapd.info"):
            return "meta:" + base
        if base == "%s.tcp-fuse.vol" % vol:
            return "fuse"
        if base == "%s.rdma-fuse.vol" % vol:
            return "fuse-rdma"
        if base == "trusted-%s.tcp-fuse.vol" % vol:
            return "trusted"
        if base == "trusted-%s.rdma-fuse.vol" % vol:
            return "trusted-rdma"
        if base == "%s.gfproxyd.vol" % vol:
            return "gfproxyd"
        if base == "trusted-%s.tcp-gfproxy-fuse.vol" % vol:
            return "gfproxy-client"
        if base == "%s-shd.vol" % vol:
            return "shd"
        if base.endswith("-rebalance.vol"):
            return "rebalance"
        if base.endswith("-snapd.vol"):
            return "snapd"
        if base.startswith(vol + ".") and base.endswith(".vol"):
            return "brick"
        return "file:" + base
    return "file:" + rel


def diff_snaps(before, after, vol):
    """Per-kind list of changes: ["+type", "-type", "type:option", "+file", ...]."""
    changes = {}
    raw = {}
    for rel in sorted(set(before) | set(after)):
        kind = file_kind(rel, vol)
        if kind.startswith("meta:") or kind == "info":
            continue
        b, a = before.get(rel), after.get(rel)
        if b == a:
            continue
        ch = changes.setdefault(kind, [])
        if b is None:
            ch.append("+file")
        elif a is None:
            ch.append("-file")
        if not rel.endswith(".vol"):
            if b is not None and a is not None:
                ch.append("changed")
            raw[rel] = {"before": b, "after": a}
            continue
        bb = parse_volfile(b or "")
        ab = parse_volfile(a or "")
        opt_changes = []
        for name in ab:
            if name not in bb:
                ch.append("+" + str(ab[name]["type"]))
        for name in bb:
            if name not in ab:
                ch.append("-" + str(bb[name]["type"]))
        for name in ab:
            if name in bb:
                bo, ao = bb[name]["options"], ab[name]["options"]
                for k in sorted(set(bo) | set(ao)):
                    if bo.get(k) != ao.get(k):
                        tag = "%s:%s" % (ab[name]["type"], k)
                        if k not in ao:
                            tag = "-" + tag  # option line taken out of that xlator
                        ch.append(tag)
                        opt_changes.append([name, ab[name]["type"], k, bo.get(k), ao.get(k)])
                if bb[name]["type"] != ab[name]["type"]:
                    ch.append("type:%s->%s" % (bb[name]["type"], ab[name]["type"]))
        if not ch:
            sub = [n for n in ab if n in bb and ab[n]["subvolumes"] != bb[n]["subvolumes"]]
            ch.append("subvolumes" if sub else "reordered")
        raw[rel] = {"option_changes": opt_changes,
                    "added": [[n, ab[n]["type"]] for n in ab if n not in bb],
                    "removed": [[n, bb[n]["type"]] for n in bb if n not in ab]}
    # dedupe, keep order
    for k in changes:
        seen = []
        for c in changes[k]:
            if c not in seen:
                seen.append(c)
        changes[k] = seen
    return changes, raw


RANGE_RE = re.compile(r"is out of range \[(-?[0-9.]+) - (-?[0-9.]+|inf)\]")
MIN_RE = re.compile(r"is smaller than minimum value '(-?[0-9.]+)'")
ENUM_RE = re.compile(r"possible options are (.*?)\.\)")
QUOTED_CHOICES_RE = re.compile(r"(?:Available|Valid) options are ((?:'[^']*'(?:, | or |  ?or  ?| and )?)+)")

# Answers that refuse the KEY (volume type, prerequisite, other command), whatever the value.
REFUSAL_PATTERNS = [
    "non-replicate volume", "non-disperse volume", "is not of replicate type",
    "is not of disperse type", "not valid for a single volume",
    "Not a valid option for single volume", "Enable quota first", "is invalid command",
    "is deprecated", "Brick-multiplexing is not enabled", "Lock migration is a experimental",
    "Trash translator is not enabled", "not supported when the volume is in started",
    "is not supported. Use 'gluster volume heal", "Commit failed",
]


def is_refusal(m):
    return any(p in m for p in REFUSAL_PATTERNS)


def infer_type(results, default):
    """results: [(value, rc, message)] from ONE volume type. Returns dict or None if that
    type did not validate at all (everything accepted, or refused for a non-value reason)."""
    if not results:
        return None
    acc = {v for v, rc, m in results if rc == 0}
    value_msgs = {v: m for v, rc, m in results if rc != 0 and not is_refusal(m)}
    if not value_msgs:
        return None
    allm = " || ".join(value_msgs.values())
    r = {"type": None, "min": None, "max": None, "values": None}
    for m in value_msgs.values():
        mm = RANGE_RE.search(m)
        if mm:
            r["min"], r["max"] = mm.group(1), mm.group(2)
            break
    if r["min"] is None:
        mm = MIN_RE.search(allm)
        if mm:
            r["min"] = mm.group(1)

    def done(t, **kw):
        r["type"] = t
        r.update(kw)
        return r

    for m in value_msgs.values():
        em = ENUM_RE.search(m)
        if em:
            vals = [x.strip() for x in em.group(1).split(",")]
            return done("bool" if {x.lower() for x in vals} == BOOL_WORDS else "enum", values=vals)
        qm = QUOTED_CHOICES_RE.search(m)
        if qm:
            tail = m[qm.start():]
            return done("enum", values=re.findall(r"'([^']*)'", tail))
    if "should be either relax or enterprise" in allm:
        return done("enum", values=["relax", "enterprise"])
    if "transport-type" in allm and "does not exist" in allm:
        return done("enum", values=["tcp", "rdma", "tcp,rdma", "rdma,tcp"])
    mm = re.search(r"value between (\d+) and (\d+)", allm)
    if mm:
        return done("int", min=mm.group(1), max=mm.group(2))
    if "{lazy|normal|aggressive}" in allm:
        return done("mixed", values=["lazy", "normal", "aggressive"], note="enum or thread count")
    if ("not a valid boolean" in allm or "expects a valid boolean" in allm
            or "Use on/off only" in allm):
        return done("bool")
    if "is not a valid volume name" in allm:
        return done("xlator")
    if "internet-address-list" in allm or "priority-list" in allm:
        return done("list")
    if "is not a directory" in allm or "not an absolute path" in allm:
        return done("path")
    if "expects value starting with" in allm or "too short" in allm:
        return done("str")
    if "invalid time format" in allm:
        return done("time")
    if "invalid percent format" in allm:
        return done("percent")
    if "uint64_t" in allm:
        return done("uint")
    if "expects an unsigned integer" in allm:
        return done("uint")
    if "expects an integer value" in allm or "expects a positiveinteger" in allm:
        return done("int")
    if "is not an integer" in allm:
        return done("int")
    numeric = "abc" not in acc
    if numeric:
        pct_range = "150%" in value_msgs and RANGE_RE.search(value_msgs["150%"])
        size_ok = "10GB" in acc or ("10GB" in value_msgs and "10737418240" in value_msgs["10GB"])
        if pct_range or "150%" in acc:
            return done("percent-or-size" if size_ok else "percent")
        if size_ok:
            return done("size")
        if "1.5" in acc:
            return done("double")
        if ("fractional" in allm or "invalid number format" in allm or r["min"] is not None):
            neg = value_msgs.get("-1", "")
            if "-1" in acc or RANGE_RE.search(neg) or MIN_RE.search(neg):
                return done("int")
            return done("uint")
    if all("Error, Validation Failed" in m for m in value_msgs.values()):
        return done("bool", glusterd_validated=True)
    return done("mixed")


def parse_size(s):
    m = re.fullmatch(r"(\d+)\s*([KMGT]?B?)", s.strip(), re.I)
    if not m:
        return None
    mult = {"": 1, "B": 1, "KB": 1 << 10, "K": 1 << 10, "MB": 1 << 20, "M": 1 << 20,
            "GB": 1 << 30, "G": 1 << 30, "TB": 1 << 40, "T": 1 << 40}[m.group(2).upper()]
    return int(m.group(1)) * mult


def within(n, r):
    try:
        if r.get("min") is not None and n < float(r["min"]):
            return False
        if r.get("max") is not None and n > float(r["max"]):
            return False
    except (TypeError, ValueError):
        pass
    return True


def candidates(key, default, r, vol):
    c = []
    for v in OVERRIDES.get(key, []):
        c.append(v.replace("VOL", vol))
    t = (r or {}).get("type")
    d = (default or "").strip()
    dl = d.lower()
    if t == "enum" and r.get("values"):
        c += [v for v in r["values"] if v.lower() != dl]
    if t == "bool" or dl in FLIP:
        if dl in FLIP:
            f = FLIP[dl]
            if d[:1].isupper():
                f = f.capitalize()
            c.append(f)
        c += ["on", "off"]
    num = None
    try:
        num = int(d)
    except ValueError:
        pass
    if t in ("int", "uint", "time", None, "mixed", "str") and num is not None:
        for n in (num + 1, num - 1, num * 2, 1, 2):
            if within(n, r or {}) and n != num and (n >= 0 or t == "int"):
                c.append(str(n))
    if t == "double":
        try:
            c.append(str(float(d) + 0.5))
        except ValueError:
            c.append("1.5")
    if t in ("size", "percent-or-size"):
        n = parse_size(d) if d else None
        if n:
            for cand in (n * 2, n // 2, n + 1):
                if within(cand, r or {}):
                    c.append(fmt_size(cand))
        c += ["1MB", "4MB", "64KB", "1024"]
    if t in ("percent", "percent-or-size"):
        m = re.fullmatch(r"(\d+)%?", d)
        base = int(m.group(1)) if m else 10
        c += ["%d%%" % (base + 5 if base < 90 else base - 5)]
    if t in ("time",):
        c += ["10", "2"]
    if t in ("int", "uint"):
        if r.get("min") is not None:
            try:
                mn = int(float(r["min"]))
                c += [str(mn + 1), str(mn)]
            except ValueError:
                pass
    c += ["on", "2", "1", "enable", "yes", "10", "1MB", "20%", "x", "/tmp/optable/p"]
    out = []
    for v in c:
        if v not in out and v != d and v != "(null)":
            out.append(v)
    return out


def fmt_size(n):
    for suf, m in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n % m == 0 and n >= m:
            return "%d%s" % (n // m, suf)
    return str(n)


# ---------------------------------------------------------------------------------------
# common volume helpers


def create_volume(g, rec, vt, fname="setup", name=None):
    vol, extra, n = VOLTYPES[vt]
    vol = name or vol
    bricks = []
    for i in range(n):
        p = os.path.join(g.b, "%s%d" % (vol, i + 1))
        bricks.append("%s:%s" % (BIND, p))
    rc, out, err = rec.run(fname, g, "volume", "create", vol, *extra, *bricks, "force",
                           vol_type=vt)
    if rc != 0:
        raise RuntimeError("create %s failed: %s %s" % (vol, out, err))
    BASE_FIELDS[(g.dir, vol)] = g.info_fields(vol)
    return vol


def restore(g, vol, baseline, log_list=None):
    """Brings the options of VOL back to `baseline` ([(k, v)]): resets keys that are not in
    the baseline, sets keys whose value differs. Returns the actions taken."""
    acts = []
    base = dict(baseline)
    had_memacct = "config.memory-accounting" in dict(g.info_options(vol))
    for _ in range(3):
        cur = dict(g.info_options(vol))
        if cur == base:
            break
        for k in cur:
            if k not in base:
                rc, out, err = g.cli("volume", "reset", vol, k)
                acts.append(["reset", k, rc, (out + err).strip()])
        cur = dict(g.info_options(vol))
        for k, v in base.items():
            if cur.get(k) != v:
                rc, out, err = g.cli("volume", "set", vol, k, v)
                acts.append(["set", k, v, rc, (out + err).strip()])
        cur = dict(g.info_options(vol))
        for k in cur:
            if k not in base:
                rc, out, err = g.cli("volume", "reset", vol, k, "force")
                acts.append(["reset-force", k, rc, (out + err).strip()])
    cur = dict(g.info_options(vol))
    if cur != base:
        # user.* keys cannot be reset one by one (glusterd: "Option user.x does not exist"):
        # only `reset VOL all` removes them; then put the baseline values back.
        rc, out, err = g.cli("volume", "reset", vol, "all")
        acts.append(["reset-all", rc, (out + err).strip()])
        cur = dict(g.info_options(vol))
        for k, v in base.items():
            if cur.get(k) != v:
                rc, out, err = g.cli("volume", "set", vol, k, v)
                acts.append(["set", k, v, rc, (out + err).strip()])
    # state kept outside the options dict (transport-type, memory accounting)
    bf = BASE_FIELDS.get((g.dir, vol))
    if bf is not None:
        f = g.info_fields(vol)
        if f.get("transport-type") != bf.get("transport-type"):
            for a in (["set", vol, "config.transport", "tcp"], ["reset", vol, "config.transport"]):
                rc, out, err = g.cli("volume", *a)
                acts.append(a + [rc, (out + err).strip()])
    if had_memacct:
        for a in (["set", vol, "config.memory-accounting", "off"],
                  ["reset", vol, "config.memory-accounting"]):
            rc, out, err = g.cli("volume", *a)
            acts.append(a + [rc, (out + err).strip()])
    if log_list is not None and acts:
        log_list.append({"vol": vol, "actions": acts})
    return acts


def get_all(g, vol):
    rc, out, err = g.cli("volume", "get", vol, "all", "--xml")
    return parse_get_xml(out)


def strings_candidates():
    try:
        p = subprocess.run(["strings", "-n", "4", GLUSTERD_SO], capture_output=True, timeout=60)
        words = p.stdout.decode("ascii", "replace").split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return []
    rx = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")
    return sorted({w for w in words if rx.match(w)})


# ---------------------------------------------------------------------------------------
# phase A


def phase_a(args, state_dir):
    g = Glusterd(args.base, "A")
    g.fresh()
    rec = Recorder()
    st = {"keys": {}, "restores": []}
    try:
        g.start()
        rec.run("global", g, "volume", "get", "all", "all")
        rec.run("global", g, "volume", "get", "all", "all", "--xml")
        vols = {}
        for vt in ("dist", "rep3", "disp", "arbiter", "distrep"):
            vols[vt] = create_volume(g, rec, vt)
        st["info_after_create"] = {vt: g.read_info(v) for vt, v in vols.items()}
        # volume get all, per type (text + xml)
        per_type = {}
        for vt, v in vols.items():
            rec.run("get_all", g, "volume", "get", v, "all", vol_type=vt)
            rc, out, err = rec.run("get_all", g, "volume", "get", v, "all", "--xml", vol_type=vt)
            per_type[vt] = parse_get_xml(out)
        st["get_all"] = per_type
        rc, out, err = g.cli("volume", "get", "all", "all", "--xml")
        st["global_get"] = parse_get_xml(out)
        global_keys = [k for k, _ in st["global_get"]]
        listed = []
        for k, _ in per_type["dist"]:
            if k not in listed:
                listed.append(k)
        st["listed"] = listed
        baseline = {vt: g.info_options(v) for vt, v in vols.items()}
        st["baseline"] = baseline
        st["volume_ids"] = {vt: g.info_fields(v).get("volume-id") for vt, v in vols.items()}

        old = None
        if args.merge:
            # re-probe only --only keys and merge them into the existing A.json
            old = load_json(os.path.join(state_dir, "A.json"))
            old_golden = load_json(os.path.join(state_dir, "A.golden.json"))
            if not old or not args.only:
                raise RuntimeError("--merge needs a previous A.json and --only")
        # ---- discovery of keys `volume get` does not list
        cands = [c for c in strings_candidates() if c not in listed and c not in global_keys]
        if old:
            cands = []
        extra = []
        disc = []
        for c in cands:
            rc, out, err = g.cli("volume", "set", "d", c, "abc")
            msg = (out + err).strip()
            disc.append([c, rc, msg])
            if "does not exist" in msg and "option :" in msg:
                continue
            extra.append(c)
            if rc == 0:
                restore(g, "d", baseline["dist"], st["restores"])
        if old:
            disc, extra = old["discovery"], old["extra_keys"]
        st["discovery"] = disc
        st["extra_keys"] = extra
        log("listed keys: %d, extra accepted keys: %d" % (len(listed), len(extra)))
        for c in ([] if old else extra[:20] + ["nosuch.key"]):
            rec.run("unknown_keys", g, "volume", "set", "d", c, "abc", vol_type="dist")
            restore(g, "d", baseline["dist"], st["restores"])

        all_keys = listed + [k for k in extra if k not in listed]
        defaults = {}
        for vt in per_type:
            for k, v in per_type[vt]:
                defaults.setdefault(vt, {}).setdefault(k, v)
        st["defaults"] = defaults

        # ---- per-key probes (volume keys)
        only = set(args.only.split(",")) if args.only else None
        for i, key in enumerate(all_keys):
            if only and key not in only:
                continue
            if key in global_keys and key != "cluster.server-quorum-ratio":
                # server-quorum-ratio is listed both globally and per volume: probe both ways.
                continue
            if i % 20 == 0:
                log("A: key %d/%d %s (cli calls so far %d)" % (i, len(all_keys), key, g.calls))
            st["keys"][key] = probe_key(g, rec, key, vols, baseline, defaults, st)
        if old:
            for key, gv in st["global_get"]:
                if key in only:
                    old["global"][key] = probe_global(g, rec, key, gv)
            old_golden["global"] = ([r for r in old_golden.get("global", []) if r.get("key") not in only]
                                    + rec.files.get("global", []))
            for k, kr in st["keys"].items():
                old["keys"][k] = kr
            old.setdefault("merged", []).append(sorted(st["keys"]))
            old_golden["keys"] = ([r for r in old_golden.get("keys", []) if r.get("key") not in st["keys"]]
                                  + rec.files.get("keys", []))
            st, rec.files = old, old_golden
            return
        # ---- toggled graph: keys that no plain graph validated
        toggles = []
        for key, kr in st["keys"].items():
            for vt in ("dist",):
                vs = kr.get("valid", {}).get(vt)
                if vs and vs.get("rc") == 0:
                    chs = vs.get("changes") or {}
                    if key == "config.transport" or any("+file" in ch for ch in chs.values()):
                        continue
                    for kind, ch in chs.items():
                        if any(c.startswith("+") for c in ch):
                            toggles.append((key, vs["value"]))
                            break
        seen = set()
        toggles = [t for t in toggles if not (t[0] in seen or seen.add(t[0]))]
        st["toggles"] = toggles
        dx = create_volume(g, rec, "dist", name="dx")
        applied = []
        for k, v in toggles:
            rc, out, err = rec.run("toggled", g, "volume", "set", dx, k, v, vol_type="dist-toggled")
            if rc == 0:
                applied.append([k, v])
        st["toggles_applied"] = applied
        bx = g.info_options(dx)
        st["baseline_dx"] = bx
        rec.add("toggled", g, ["(info options of dx)"], 0, "\n".join("%s=%s" % kv for kv in bx), "")
        for key, kr in st["keys"].items():
            if key in dict(applied):
                continue
            if kr.get("type_by_vt") and any(kr["type_by_vt"].values()):
                continue
            res = []
            for v in INVALID_SHORT:
                for pk, pv in PREREQ.get(key, []):
                    g.cli("volume", "set", dx, pk, pv)
                rc, out, err = rec.run("keys", g, "volume", "set", dx, key, v, vol_type="dist-toggled",
                                       key=key, kind="invalid")
                res.append([v, rc, (out + err).strip()])
                after_failure(g, rec, dx, "dist-toggled", key, out + err)
                if rc == 0 or PREREQ.get(key):
                    restore(g, dx, bx, st["restores"])
            kr["invalid"]["dist-toggled"] = res
            t = infer_type([tuple(x) for x in res], None)
            kr["type_by_vt"]["dist-toggled"] = t
            if t:
                d = defaults["dist"].get(key)
                dflt = split_default(d)[0] if d is not None else None
                vs = try_valid(g, rec, key, dx, "dist-toggled", candidates(key, dflt, t, dx), bx, st)
                kr["valid"]["dist-toggled"] = vs
        # ---- global keys
        glob = {}
        for key, gv in st["global_get"]:
            glob[key] = probe_global(g, rec, key, gv)
        st["global"] = glob
        # ---- misc experiments
        misc_a(g, rec, vols, baseline, st)
    finally:
        st["cli_calls"] = g.calls
        g.sweep()
        dump_json(os.path.join(state_dir, "A.json"), st)
        dump_json(os.path.join(state_dir, "A.golden.json"), rec.files)


def after_failure(g, rec, vol, vt, key, msg):
    """After a "Commit failed" answer (staging accepted the value, the commit refused it),
    record what `volume get` shows, then reset the key to be sure of the state."""
    if "Commit failed" not in msg:
        return
    rec.run("keys", g, "volume", "get", vol, key, vol_type=vt, key=key, kind="get-after-commit-failure")
    rec.run("keys", g, "volume", "reset", vol, key, vol_type=vt, key=key, kind="reset-after-commit-failure")


def try_valid(g, rec, key, vol, vt, cands, baseline, st, limit=12):
    """Sets the first candidate glusterd accepts; returns the record with the volfile diff."""
    attempts = []
    for v in cands[:limit]:
        for pk, pv in PREREQ.get(key, []):
            g.cli("volume", "set", vol, pk, pv)
        before = g.snapshot(vol)
        rc, out, err = rec.run("keys", g, "volume", "set", vol, key, v, vol_type=vt, key=key,
                               kind="valid-attempt")
        attempts.append([v, rc, (out + err).strip()])
        after_failure(g, rec, vol, vt, key, out + err)
        if rc == 0:
            after = g.snapshot(vol)
            info_opts = g.info_options(vol)
            changes, raw = diff_snaps(before, after, vol)
            # PREREQ keys were set before `before`, so they are not in the diff.
            res = {"value": v, "rc": 0, "changes": changes, "raw": raw,
                   "attempts": attempts, "info_options": info_opts,
                   "stored_as": [k for k, _ in info_opts if k not in dict(baseline)]}
            return res
        restore(g, vol, baseline, st["restores"])
    return {"value": None, "rc": 1, "attempts": attempts}


def probe_key(g, rec, key, vols, baseline, defaults, st):
    kr = {"invalid": {}, "type_by_vt": {}, "valid": {}}
    for vt in ("dist", "rep3", "disp"):
        vol = vols[vt]
        res = []
        for v in (INVALID_FULL if vt == "dist" else INVALID_SHORT):
            for pk, pv in PREREQ.get(key, []):
                g.cli("volume", "set", vol, pk, pv)
            rc, out, err = rec.run("keys", g, "volume", "set", vol, key, v, vol_type=vt, key=key,
                                   kind="invalid")
            res.append([v, rc, (out + err).strip()])
            after_failure(g, rec, vol, vt, key, out + err)
            if rc == 0 or PREREQ.get(key):
                restore(g, vol, baseline[vt], st["restores"])
        kr["invalid"][vt] = res
        kr["type_by_vt"][vt] = infer_type([tuple(x) for x in res], None)
    # pick the home type: the first that validated, else the first that accepted anything
    home = None
    for vt in ("dist", "rep3", "disp"):
        if kr["type_by_vt"][vt]:
            home = vt
            break
    if home is None:
        for vt in ("dist", "rep3", "disp"):
            if any(x[1] == 0 for x in kr["invalid"][vt]):
                home = vt
                break
    if home is None:
        home = "dist"
    t = kr["type_by_vt"].get(home)
    d = defaults[home].get(key)
    dflt = split_default(d)[0] if d is not None else None
    order = [home] + [vt for vt in ("dist", "rep3", "disp") if vt != home]
    value = None
    for vt in order:
        vol = vols[vt]
        if value is None:
            vs = try_valid(g, rec, key, vol, vt, candidates(key, dflt, t, vol), baseline[vt], st)
            if vs.get("rc") == 0:
                value = vs["value"]
                kr["home"] = vt
                # get after set, text and xml; reset; get after reset
                rec.run("keys", g, "volume", "get", vol, key, vol_type=vt, key=key, kind="get-after-set")
                rec.run("keys", g, "volume", "get", vol, key, "--xml", vol_type=vt, key=key,
                        kind="get-after-set")
                rc, out, err = g.cli("volume", "get", vol, key, "--xml")
                vs["get_after_set"] = parse_get_xml(out)
                rec.run("keys", g, "volume", "reset", vol, key, vol_type=vt, key=key, kind="reset")
                vs["info_after_reset"] = g.info_options(vol)
                rc, out, err = rec.run("keys", g, "volume", "get", vol, key, vol_type=vt, key=key,
                                       kind="get-after-reset")
                rc, out, err = g.cli("volume", "get", vol, key, "--xml")
                vs["get_after_reset"] = parse_get_xml(out)
        else:
            vs = try_valid(g, rec, key, vol, vt, [value], baseline[vt], st, limit=1)
        restore(g, vol, baseline[vt], st["restores"])
        kr["valid"][vt] = vs
    return kr


def probe_global(g, rec, key, shown):
    gr = {"shown": shown, "invalid": [], "valid": None}
    rc, out, err = rec.run("global", g, "volume", "set", "d", key, "on", key=key, kind="on-volume")
    gr["on_volume"] = [rc, (out + err).strip()]
    if key in ("cluster.op-version", "cluster.max-op-version"):
        return gr
    for pk, pv in GLOBAL_PREREQ.get(key, []):
        rec.run("global", g, "volume", "set", "all", pk, pv, key=key, kind="prerequisite")
    for v in INVALID_FULL:
        rc, out, err = rec.run("global", g, "volume", "set", "all", key, v, key=key, kind="invalid")
        gr["invalid"].append([v, rc, (out + err).strip()])
        if rc == 0:
            g.cli("volume", "set", "all", key, split_default(shown)[0])
    gr["type"] = infer_type([tuple(x) for x in gr["invalid"]], None)
    dflt = split_default(shown)[0]
    for v in candidates(key, dflt, gr["type"], "d")[:8]:
        if key == "cluster.enable-shared-storage":
            break  # would create a shared-storage volume; probed in misc only
        before = g.snapshot("d")
        rc, out, err = rec.run("global", g, "volume", "set", "all", key, v, key=key, kind="valid")
        if rc == 0:
            after = g.snapshot("d")
            ch, raw = diff_snaps(before, after, "d")
            gr["valid"] = {"value": v, "changes": ch, "raw": raw}
            rec.run("global", g, "volume", "get", "all", key, key=key, kind="get-after-set")
            rec.run("global", g, "volume", "get", "d", key, key=key, kind="get-after-set")
            rc, out, err = g.cli("volume", "get", "all", key, "--xml")
            gr["get_after_set"] = parse_get_xml(out)
            rec.run("global", g, "volume", "reset", "all", key, key=key, kind="reset")
            rec.run("global", g, "volume", "reset", "d", key, key=key, kind="reset")
            rc, out, err = g.cli("volume", "get", "all", key, "--xml")
            gr["get_after_reset"] = parse_get_xml(out)
            # put the default back explicitly
            rec.run("global", g, "volume", "set", "all", key, dflt, key=key, kind="restore")
            rc, out, err = g.cli("volume", "get", "all", key, "--xml")
            gr["get_after_restore"] = parse_get_xml(out)
            with open(os.path.join(g.w, "options")) as f:
                gr["options_file_after_restore"] = f.read()
            break
    for pk, pv in GLOBAL_PREREQ.get(key, []):
        rec.run("global", g, "volume", "set", "all", pk, "disable", key=key, kind="prerequisite-undo")
    return gr


def misc_a(g, rec, vols, baseline, st):
    F = "misc"
    d = vols["dist"]
    r3 = vols["rep3"]
    m = {}
    # CLI-side refusals
    rec.run(F, g, "volume", "set", d, "performance.cache-size", "", note="empty value")
    rec.run(F, g, "volume", "set", d, "performance.cache-size", note="missing value")
    rec.run(F, g, "volume", "set", "nosuchvol", "performance.cache-size", "64MB")
    rec.run(F, g, "volume", "get", "nosuchvol", "all")
    rec.run(F, g, "volume", "get", d, "nosuch.key")
    rec.run(F, g, "volume", "get", d, "nosuch.key", "--xml")
    rec.run(F, g, "volume", "reset", d, "nosuch.key")
    rec.run(F, g, "volume", "set", d, "nosuch.key", "1", "--xml")
    rec.run(F, g, "volume", "set", d, "performance.cache-size", "abc", "--xml")
    rec.run(F, g, "volume", "set", d, "performance.cache-size", "64MB", "--xml")
    rec.run(F, g, "volume", "reset", d, "performance.cache-size", "--xml")
    rec.run(F, g, "volume", "reset", d, "all", "--xml")
    # set twice
    for v in ("64MB", "128MB", "128MB"):
        rec.run(F, g, "volume", "set", d, "performance.cache-size", v, note="set twice")
        rec.add(F, g, ["(info options)"], 0, "\n".join("%s=%s" % kv for kv in g.info_options(d)), "")
    restore(g, d, baseline["dist"], st["restores"])
    # several pairs in one command
    rec.run(F, g, "volume", "set", d, "performance.cache-size", "64MB", "network.ping-timeout", "20",
            note="two pairs")
    rec.add(F, g, ["(info options)"], 0, "\n".join("%s=%s" % kv for kv in g.info_options(d)), "")
    rec.run(F, g, "volume", "reset", d, "all", note="reset all")
    rec.add(F, g, ["(info options)"], 0, "\n".join("%s=%s" % kv for kv in g.info_options(d)), "")
    rec.run(F, g, "volume", "set", d, "performance.cache-size", "64MB")
    rec.run(F, g, "volume", "reset", d, "performance.cache-size", "force", note="reset key force")
    rec.run(F, g, "volume", "reset", d, "all", "force", note="reset all force")
    rec.run(F, g, "volume", "reset", d, "transport.address-family", note="never-reset key")
    rec.run(F, g, "volume", "reset", d, "transport.address-family", "force")
    rec.run(F, g, "volume", "reset", d, "nfs.disable")
    rec.add(F, g, ["(info options)"], 0, "\n".join("%s=%s" % kv for kv in g.info_options(d)), "")
    restore(g, d, baseline["dist"], st["restores"])
    # user.* keys
    for args in (["set", d, "user.foo", "bar"], ["get", d, "user.foo"], ["get", d, "user.foo", "--xml"],
                 ["set", d, "user.foo", "baz=qux"], ["set", d, "user.", "x"], ["set", d, "user", "x"],
                 ["set", d, "USER.Foo", "y"], ["set", d, "user.foo.bar", "x"]):
        rec.run(F, g, "volume", *args)
    rec.add(F, g, ["(info options)"], 0, "\n".join("%s=%s" % kv for kv in g.info_options(d)), "")
    rc, out, err = rec.run(F, g, "volume", "get", d, "all", note="get all with user.foo set")
    m["get_all_lists_user"] = "user.foo" in out
    rec.run(F, g, "volume", "info", d)
    rec.run(F, g, "volume", "reset", d, "user.foo")
    rec.run(F, g, "volume", "reset", d, "user.foo.bar")
    restore(g, d, baseline["dist"], st["restores"])
    # short keys (no dot) and wrong prefixes
    shorts = ["cache-size", "readdir-ahead", "ping-timeout", "io-thread-count", "quick-read",
              "stat-prefetch", "write-behind", "eager-lock", "heal-timeout", "strict-o-direct",
              "flush-behind", "cache-invalidation", "brick-log-level", "lookup-optimize",
              "shd-max-threads", "event-threads", "keepalive-time", "ssl", "allow", "ctime",
              "trash", "shard", "timeout", "size", "readdir", "min-free-disk", "window-size",
              "self-heal-daemon", "data-self-heal", "performance", "disable", "enable"]
    sk = {}
    for s in shorts:
        before = g.info_options(d)
        rc, out, err = rec.run(F, g, "volume", "set", d, s, "on" if s not in
                               ("cache-size", "ping-timeout", "io-thread-count", "heal-timeout",
                                "shd-max-threads", "event-threads", "keepalive-time", "timeout",
                                "size", "min-free-disk", "window-size") else "8",
                               note="short key")
        after = g.info_options(d)
        stored = [k for k in dict(after) if dict(before).get(k) != dict(after).get(k)]
        sk[s] = {"rc": rc, "msg": (out + err).strip(), "stored": stored}
        if rc == 0:
            rec.add(F, g, ["(info options)"], 0, "\n".join("%s=%s" % kv for kv in after), "")
            rec.run(F, g, "volume", "get", d, s, note="get short key")
            rec.run(F, g, "volume", "reset", d, s, note="reset short key")
            sk[s]["after_reset"] = [k for k in dict(g.info_options(d)) if k in stored]
        restore(g, d, baseline["dist"], st["restores"])
    for s in ("cache-size", "ping-timeout", "brick-log-level"):
        rec.run(F, g, "volume", "get", d, s, note="get short key, unset")
    for s in ("performance.cache", "cluster.heal", "cache-siz", "performance.readdirahead",
              "network.ping_timeout", "Performance.Cache-Size", "performance.cache-size.x"):
        rec.run(F, g, "volume", "set", d, s, "8", note="misspelt key")
        restore(g, d, baseline["dist"], st["restores"])
    m["short_keys"] = sk
    # a key on a type it does not apply to
    for k, v in (("cluster.data-self-heal", "on"), ("cluster.quorum-type", "fixed"),
                 ("disperse.eager-lock", "off"), ("cluster.self-heal-daemon", "off"),
                 ("cluster.granular-entry-heal", "on"), ("cluster.lookup-optimize", "off")):
        for vt in ("dist", "rep3", "disp"):
            rec.run(F, g, "volume", "set", vols[vt], k, v, vol_type=vt, note="type applicability")
            restore(g, vols[vt], baseline[vt], st["restores"])
    # groups: the gluster CLI reads /var/lib/glusterd/groups/GROUP itself (not glusterd's
    # working directory), so the system's group files are what is applied.
    rec.run(F, g, "volume", "set", d, "group", "nosuchgroup", note="group file missing")
    groups = {}
    if os.path.isdir(SYS_GROUPS):
        for fn in sorted(os.listdir(SYS_GROUPS)):
            for vt in ("dist", "rep3", "disp"):
                vol = vols[vt]
                rc, out, err = rec.run(F, g, "volume", "set", vol, "group", fn, vol_type=vt,
                                       note="group")
                after = g.info_options(vol)
                rec.add(F, g, ["(info options)"], 0, "\n".join("%s=%s" % kv for kv in after), "",
                        vol_type=vt)
                groups["%s/%s" % (fn, vt)] = {"rc": rc, "msg": (out + err).strip(),
                                              "options": after}
                restore(g, vol, baseline[vt], st["restores"])
    m["groups"] = groups
    # cluster.op-version cases
    rc, out, err = g.cli("volume", "get", "all", "cluster.op-version", "--xml")
    cur = dict(parse_get_xml(out)).get("cluster.op-version", "")
    for v in (cur, "1", str(int(cur) + 1) if cur.isdigit() else "999999", "999999", "abc", "-1",
              "31000"):
        rec.run(F, g, "volume", "set", "all", "cluster.op-version", v, note="op-version")
    rec.run(F, g, "volume", "set", d, "cluster.op-version", cur)
    rec.run(F, g, "volume", "set", "all", "cluster.max-op-version", "1")
    rec.run(F, g, "volume", "set", "all", "cluster.op-version", cur, "cluster.brick-multiplex",
            "on")
    rec.run(F, g, "volume", "set", "all", "performance.cache-size", "64MB")
    rec.run(F, g, "volume", "get", "all", "performance.cache-size")
    rec.run(F, g, "volume", "get", "all", "cluster.op-version")
    rec.run(F, g, "volume", "get", "all", "cluster.op-version", "--xml")
    rec.run(F, g, "volume", "get", d, "cluster.op-version")
    rec.run(F, g, "volume", "reset", "all", "cluster.brick-multiplex")
    rec.run(F, g, "volume", "reset", "all")
    rec.run(F, g, "volume", "set", "help")
    rc, out, err = g.cli("volume", "set", "help-xml")
    rec.add(F, g, ["volume", "set", "help-xml"], rc, out, err)
    # volume get on other types for a few keys whose default depends on the type
    for vt, vol in vols.items():
        for k in ("cluster.quorum-type", "performance.client-io-threads", "cluster.quorum-count"):
            rec.run(F, g, "volume", "get", vol, k, vol_type=vt)
    st["misc"] = m


# ---------------------------------------------------------------------------------------
# phase S: started volume


def phase_s(args, state_dir):
    a = load_json(os.path.join(state_dir, "A.json"))
    g = Glusterd(args.base, "S")
    g.fresh()
    rec = Recorder()
    st = {"keys": {}, "restores": []}
    try:
        g.start()
        vols = {}
        for vt in ("rep3", "disp"):
            vols[vt] = create_volume(g, rec, vt, fname="started")
            rec.run("started", g, "volume", "start", vols[vt], "force", vol_type=vt)
        st["info_after_start"] = {vt: g.read_info(v) for vt, v in vols.items()}
        base = {vt: g.info_options(v) for vt, v in vols.items()}
        st["baseline"] = base
        only = set(args.only.split(",")) if args.only else None
        n = 0
        for key, kr in a["keys"].items():
            if only and key not in only:
                continue
            n += 1
            if n % 25 == 0:
                log("S: %d %s (cli %d)" % (n, key, g.calls))
            vt = "disp" if kr.get("home") == "disp" else "rep3"
            vol = vols[vt]
            value = None
            for vt2 in (vt, "rep3", "dist", "disp", "dist-toggled"):
                vs = kr["valid"].get(vt2)
                if vs and vs.get("rc") == 0:
                    value = vs["value"]
                    break
            if value is None or key in STARTED_SKIP:
                st["keys"][key] = {"skipped": True}
                continue
            for old in ("dx-client", "d-client", "r3-client", "e-client"):
                value = value.replace(old, vol + "-client")
            for pk, pv in PREREQ.get(key, []):
                g.cli("volume", "set", vol, pk, pv)
            before = g.snapshot(vol)
            rc, out, err = rec.run("started", g, "volume", "set", vol, key, value, key=key, vol_type=vt)
            after = g.snapshot(vol)
            ch, raw = diff_snaps(before, after, vol)
            res = {"vol_type": vt, "value": value, "rc": rc, "msg": (out + err).strip(), "changes": ch,
                   "raw": {k: v for k, v in raw.items() if "shd" in k}}
            after_failure(g, rec, vol, vt, key, out + err)
            if rc == 0:
                rc2, out2, err2 = g.cli("volume", "reset", vol, key)
                res["reset"] = [rc2, (out2 + err2).strip()]
            restore(g, vol, base[vt], st["restores"])
            st["keys"][key] = res
        for vt, vol in vols.items():
            rec.run("started", g, "volume", "status", vol, vol_type=vt)
            rec.run("started", g, "volume", "stop", vol, "force", vol_type=vt)
        # granular-entry-heal on a volume that was started once
        rec.run("started", g, "volume", "set", vols["rep3"], "cluster.granular-entry-heal", "on",
                vol_type="rep3", note="stopped after start")
    finally:
        st["cli_calls"] = g.calls
        g.sweep()
        dump_json(os.path.join(state_dir, "S.json"), st)
        dump_json(os.path.join(state_dir, "S.golden.json"), rec.files)


# ---------------------------------------------------------------------------------------
# phase B: op-versions


TRUTHY = {"off": "on", "false": "true", "no": "yes", "disable": "enable", "0": "1",
          "False": "True", "Off": "On"}


def phase_b(args, state_dir):
    """Op-versions. glusterd computes a volume's op-version= (and client-op-version=) as the
    maximum over its options, counting a boolean option only when its value is true; with a
    cluster op-version >= 2 the baseline is 2. Setting a key whose op-version is above the
    cluster's raises the cluster op-version to it (single node: no error). `volume reset`
    at a high cluster op-version puts creation defaults back (storage.fips-mode-rchecksum,
    op-version 40000), so no volume is reused: every key is set alone, with a true value for
    booleans, on its own volume, created while the cluster op-version is still --low-op."""
    a = load_json(os.path.join(state_dir, "A.json"))
    g = Glusterd(args.base, "B", op_version=args.low_op)
    g.fresh()
    rec = Recorder()
    st = {"keys": {}, "low_op": args.low_op, "create_errors": {}}
    only = set(args.only.split(",")) if args.only else None

    def cluster_op():
        with open(os.path.join(g.w, "glusterd.info")) as f:
            return re.search(r"operating-version=(\d+)", f.read()).group(1)

    plan = []
    for i, (key, kr) in enumerate(a["keys"].items()):
        if only and key not in only:
            continue
        for vt in ("dist", "rep3", "disp"):
            vs = kr["valid"].get(vt)
            if vs and vs.get("rc") == 0:
                plan.append((key, vt, vs["value"], "k%d%s" % (i, vt[0])))
                break
    # B0: which keys, set on one volume, land in EVERY volume's options? (A witness volume
    # that is never set.) Those would contaminate the other volumes' op-versions below.
    g0 = Glusterd(args.base, "B0")
    g0.fresh()
    prop = []
    try:
        g0.start()
        w = create_volume(g0, Recorder(), "dist", name="witness")
        tv = {"dist": create_volume(g0, Recorder(), "dist", name="x"),
              "rep3": create_volume(g0, Recorder(), "rep3", name="xr"),
              "disp": create_volume(g0, Recorder(), "disp", name="xe")}
        base0 = {vt: g0.info_options(v) for vt, v in tv.items()}
        for key, vt, value, name in plan:
            vol = tv[vt]
            for old in ("dx-client", "d-client", "r3-client", "e-client"):
                value = value.replace(old, vol + "-client")
            before = dict(g0.info_options(w))
            rc, out, err = g0.cli("volume", "set", vol, key, value)
            after = dict(g0.info_options(w))
            if key in after and key not in before:
                prop.append(key)
                rec.add("opversion", g0, ["volume", "set", vol, key, value], rc, out, err,
                        key=key, vol_type=vt, note="propagation scan: the key landed in volume witness too")
                rec.add("opversion", g0, ["(info options of witness)"], 0,
                        "\n".join("%s=%s" % kv for kv in after.items()), "")
            if rc == 0:
                restore(g0, vol, base0[vt])
    finally:
        g0.sweep()
    st["propagating"] = prop
    log("B0: %d keys propagate to every volume" % len(prop))
    try:
        g.start()
        rec.run("opversion", g, "volume", "get", "all", "cluster.op-version")
        vols = {}
        for key, vt, value, name in plan:
            if vt == "disp" or key in prop:
                continue
            vols[key] = create_volume(g, rec if len(vols) < 3 else Recorder(), vt,
                                      fname="opversion", name=name)
        log("B: %d volumes created at cluster op-version %s" % (len(vols), cluster_op()))
        rec.run("opversion", g, "volume", "get", "all", "cluster.op-version",
                note="after creating volumes")
        st["info_after_create"] = g.read_info(vols[plan[0][0]]) if vols else None
        # global keys: does `volume set all KEY` raise the cluster op-version?
        st["global"] = {}
        for key, gr in (a.get("global") or {}).items():
            v = (gr.get("valid") or {}).get("value")
            if not v or (only and key not in only):
                continue
            c0 = cluster_op()
            for pk, pv in GLOBAL_PREREQ.get(key, []):
                g.cli("volume", "set", "all", pk, pv)
            rc, out, err = rec.run("opversion", g, "volume", "set", "all", key, v, key=key)
            st["global"][key] = {"value": v, "rc": rc, "msg": (out + err).strip(),
                                 "cluster_before": c0, "cluster_after": cluster_op()}
            g.cli("volume", "set", "all", key, split_default(gr.get("shown", ""))[0])
            for pk, pv in GLOBAL_PREREQ.get(key, []):
                g.cli("volume", "set", "all", pk, "disable")
        bumps_recorded = 0
        for n, (key, vt, value, name) in enumerate(plan):
            if n % 25 == 0:
                log("B: %d %s (cli %d)" % (n, key, g.calls))
            if key in prop:
                continue
            if vt == "disp":
                try:
                    vol = create_volume(g, rec, vt, fname="opversion", name=name)
                except RuntimeError as e:
                    st["create_errors"][key] = str(e)
                    if int(cluster_op()) < 30600:
                        rec.run("opversion", g, "volume", "set", "all", "cluster.op-version", "30600",
                                note="a disperse volume needs a higher cluster op-version")
                    try:
                        vol = create_volume(g, rec, vt, fname="opversion", name=name)
                    except RuntimeError as e2:
                        st["create_errors"][key + " retry"] = str(e2)
                        continue
            else:
                vol = vols[key]
            for old in ("dx-client", "d-client", "r3-client", "e-client"):
                value = value.replace(old, vol + "-client")
            value = TRUTHY.get(value, value)
            for pk, pv in PREREQ.get(key, []):
                g.cli("volume", "set", vol, pk, pv)
            f0, c0 = g.info_fields(vol), cluster_op()
            opts0 = g.info_options(vol)
            rc, out, err = rec.run("opversion", g, "volume", "set", vol, key, value, key=key,
                                   vol_type=vt)
            f1, c1 = g.info_fields(vol), cluster_op()
            st["keys"][key] = {vt: {
                "value": value, "rc": rc, "msg": (out + err).strip(),
                "options_before": opts0, "options_after": g.info_options(vol),
                "op_before": f0.get("op-version"), "op": f1.get("op-version"),
                "cop_before": f0.get("client-op-version"), "cop": f1.get("client-op-version"),
                "cluster_before": c0, "cluster_after": c1}}
            if c1 != c0 and bumps_recorded < 3:
                bumps_recorded += 1
                rec.run("opversion", g, "volume", "get", "all", "cluster.op-version",
                        note="after a set that needed a higher op-version")
        # what `volume reset` does to a volume created at a low op-version
        if plan and vols:
            key0 = next(k for k, vt, _, _ in plan if k in vols)
            vol = vols[key0]
            rec.add("opversion", g, ["(info options)"], 0,
                    "\n".join("%s=%s" % kv for kv in g.info_options(vol)), "")
            rec.run("opversion", g, "volume", "reset", vol, key0, note="reset at a high cluster op-version")
            rec.add("opversion", g, ["(info options)"], 0,
                    "\n".join("%s=%s" % kv for kv in g.info_options(vol)), "")
            st["reset_readds"] = {"vol": vol, "after_reset": g.info_options(vol),
                                  "fields": g.info_fields(vol)}
        rec.run("opversion", g, "volume", "get", "all", "cluster.op-version", note="at the end")
        g.sweep()
        # B2: every propagating key on a glusterd of its own
        for key, vt, value, name in plan:
            if key not in prop:
                continue
            g2 = Glusterd(args.base, "B2", op_version=args.low_op)
            g2.fresh()
            try:
                g2.start()
                vol = create_volume(g2, Recorder(), vt, name=name)
                for old in ("dx-client", "d-client", "r3-client", "e-client"):
                    value = value.replace(old, vol + "-client")
                value = TRUTHY.get(value, value)
                f0, c0 = g2.info_fields(vol), open(os.path.join(g2.w, "glusterd.info")).read()
                opts0 = g2.info_options(vol)
                rc, out, err = rec.run("opversion", g2, "volume", "set", vol, key, value, key=key,
                                       vol_type=vt, note="alone on its glusterd")
                f1, c1 = g2.info_fields(vol), open(os.path.join(g2.w, "glusterd.info")).read()
                rx = r"operating-version=(\d+)"
                st["keys"][key] = {vt: {
                    "value": value, "rc": rc, "msg": (out + err).strip(),
                    "options_before": opts0, "options_after": g2.info_options(vol),
                    "op_before": f0.get("op-version"), "op": f1.get("op-version"),
                    "cop_before": f0.get("client-op-version"), "cop": f1.get("client-op-version"),
                    "cluster_before": re.search(rx, c0).group(1),
                    "cluster_after": re.search(rx, c1).group(1)}}
            finally:
                g2.sweep()
    finally:
        st["cli_calls"] = g.calls
        g.sweep()
        dump_json(os.path.join(state_dir, "B.json"), st)
        dump_json(os.path.join(state_dir, "B.golden.json"), rec.files)


# ---------------------------------------------------------------------------------------
# phase O: ordering


def phase_o(args, state_dir):
    g = Glusterd(args.base, "O")
    g.fresh()
    rec = Recorder()
    steps = []
    o = "o"

    def snap(label, cmd=None, res=None):
        info = g.read_info(o)
        rc, out, err = g.cli("volume", "info", o)
        ropts = []
        in_opts = False
        for line in out.splitlines():
            if line.startswith("Options Reconfigured:"):
                in_opts = True
                continue
            if in_opts and ": " in line:
                ropts.append(line.split(": ", 1)[0])
        rcx, outx, errx = g.cli("volume", "info", o, "--xml")
        xopts = []
        try:
            root = ET.fromstring(outx)
            for op in root.iter("option"):
                xopts.append(op.findtext("name"))
        except ET.ParseError:
            pass
        steps.append({"label": label, "cmd": cmd, "result": res,
                      "info_options": [k for k, _ in g.info_options(o)],
                      "info_options_kv": g.info_options(o),
                      "volume_info_options": ropts, "volume_info_xml_options": xopts,
                      "info_file": info, "volume_info": out})

    def do(*a):
        rc, out, err = rec.run("order", g, *a)
        snap(" ".join(a), list(a), [rc, (out + err).strip()])

    try:
        g.start()
        create_volume(g, rec, "dist", fname="order", name=o)
        snap("create")
        do("volume", "set", o, "performance.cache-size", "64MB")
        do("volume", "set", o, "network.ping-timeout", "20")
        do("volume", "set", o, "diagnostics.brick-log-level", "DEBUG")
        do("volume", "set", o, "performance.cache-size", "128MB")
        do("volume", "set", o, "user.a", "1")
        do("volume", "set", o, "features.shard", "on")
        do("volume", "reset", o, "network.ping-timeout")
        do("volume", "set", o, "network.ping-timeout", "30")
        do("volume", "set", o, "performance.io-thread-count", "8", "performance.read-ahead", "on")
        do("volume", "start", o, "force")
        do("volume", "set", o, "server.event-threads", "3")
        do("volume", "stop", o, "force")
        g.stop_glusterd()
        g.start()
        snap("glusterd restart 1")
        g.stop_glusterd()
        g.start()
        snap("glusterd restart 2")
        do("volume", "set", o, "client.event-threads", "3")
        g.stop_glusterd()
        g.start()
        snap("glusterd restart 3")
        do("volume", "set", o, "performance.cache-size", "256MB")
        do("volume", "reset", o, "user.a")
        do("volume", "reset", o, "all")
        do("volume", "set", o, "features.shard", "on")
        do("volume", "set", o, "group", "nosuch")
        g.stop_glusterd()
        g.start()
        snap("glusterd restart 4")
        do("volume", "set", o, "performance.cache-size", "64MB")
        do("volume", "reset", o, "transport.address-family")
        do("volume", "set", o, "transport.address-family", "inet")
        do("volume", "reset", o, "storage.fips-mode-rchecksum", "force")
        do("volume", "set", o, "user.b", "2")
        do("volume", "set", o, "group", "metadata-cache")
        do("volume", "set", o, "performance.cache-size", "32MB")
        do("volume", "reset", o, "all")
        do("volume", "set", o, "a.b", "1")
    finally:
        g.sweep()
        dump_json(os.path.join(state_dir, "O.json"), steps)
        dump_json(os.path.join(state_dir, "O.golden.json"), rec.files)


# ---------------------------------------------------------------------------------------
# phase N: number formats (octal, hex, signs, suffixes) on a few integer/size/time keys


def phase_n(args, state_dir):
    g = Glusterd(args.base, "N")
    g.fresh()
    rec = Recorder()
    try:
        g.start()
        d = create_volume(g, rec, "dist", fname="numbers")
        base = g.info_options(d)
        probes = {
            "storage.create-mask": ["777", "0777", "0778", "0999", "0x1ff", "511", "+511", " 511"],
            "performance.io-thread-count": ["010", "0x10", "+8", "8 ", "64", "065", "1e1"],
            "network.ping-timeout": ["010", "0x10", "10s", "1m", "1h", "1d", "+5"],
            "performance.cache-size": ["1KB", "1kb", "1K", "1k", "1MiB", "1 MB", "1TB", "0x100000",
                                       "1.5MB", "1.5"],
            "cluster.min-free-disk": ["10", "10%", "1.5%", "0%", "100%", "1GB", "1.5GB"],
            "performance.write-behind-window-size": ["512KB", "524287", "1GB", "1025MB"],
            "cluster.lookup-optimize": ["ON", "True", "YES", "Enable", "1", "y", "n", "t"],
            "diagnostics.brick-log-level": ["debug", "Debug", "DEBUG"],
            "cluster.quorum-type": ["AUTO", "Fixed"],
        }
        for key, values in probes.items():
            for v in values:
                rc, out, err = rec.run("numbers", g, "volume", "set", d, key, v, vol_type="dist", key=key)
                if rc == 0:
                    rc2, out2, err2 = g.cli("volume", "get", d, key, "--xml")
                    rec.add("numbers", g, ["volume", "get", d, key, "--xml"], rc2, out2, err2,
                            vol_type="dist", key=key)
                    restore(g, d, base)
    finally:
        g.sweep()
        dump_json(os.path.join(state_dir, "N.golden.json"), rec.files)


# ---------------------------------------------------------------------------------------
# phase T: analysis -> table + goldens (separate module to keep this file readable)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phases", default="AOSBNT")
    ap.add_argument("--base", default="/tmp/optable")
    ap.add_argument("--repo", default=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    ap.add_argument("--low-op", type=int, default=1)
    ap.add_argument("--only", default=None, help="comma-separated keys (debugging)")
    ap.add_argument("--merge", action="store_true",
                    help="phase A: probe only the --only keys and merge them into BASE/state/A.json")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("probe.py: needs root (glusterd)")
    state_dir = os.path.join(args.base, "state")
    os.makedirs(state_dir, exist_ok=True)
    os.makedirs(os.path.join(args.base, "ssl"), exist_ok=True)
    os.makedirs(os.path.join(args.base, "statedump"), exist_ok=True)

    def on_signal(sig, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.time()
    for ph in args.phases:
        log("phase %s" % ph)
        if ph == "A":
            phase_a(args, state_dir)
        elif ph == "S":
            phase_s(args, state_dir)
        elif ph == "B":
            phase_b(args, state_dir)
        elif ph == "O":
            phase_o(args, state_dir)
        elif ph == "N":
            phase_n(args, state_dir)
        elif ph == "T":
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import analyze
            analyze.run(args, state_dir)
        log("phase %s done after %.0fs" % (ph, time.time() - t0))


if __name__ == "__main__":
    main()
