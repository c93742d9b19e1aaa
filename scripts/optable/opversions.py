#!/usr/bin/env python3
"""Writes src/volopt/opversions.tsv: what a `volume set` of each key does to a volume's
`op-version=` and `client-op-version=` in glusterd 10.3's store.

    scripts/optable/opversions.py [--address 127.77.0.5] [--out src/volopt/opversions.tsv]

It starts a private glusterd (never the system one) on a fresh working directory bound to
--address, creates a one-brick distribute volume, and for every key of src/volopt/table.tsv
that has a valid sample value: `volume reset VOL all`, `volume set VOL KEY SAMPLE`, then reads
`op-version=` and `client-op-version=` from `vols/VOL/info`. The baseline (after the reset, no
key set) is written as the row `-`. glusterd stops whatever happens.

Every volume keeps `nfs.disable`, `transport.address-family` and `storage.fips-mode-rchecksum`
(a reset puts them back), so the baseline is what any volume has; a key whose op-version is
not above it shows the baseline. Columns: `key`, `op_version`, `client_op_version` (what the
info file said after the set), `set` (`ok` or glusterd's refusal).

Needs root, glusterfs-server and glusterfs-cli 10.3, python3.
"""
import argparse
import os

from privgd import private_glusterd


def info_versions(work, volume):
    values = {}
    with open(os.path.join(work, "vols", volume, "info")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            values[key] = value
    return values.get("op-version", "?"), values.get("client-op-version", "?")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..", "..")
    parser.add_argument("--address", default="127.77.0.5")
    parser.add_argument("--out", default=os.path.join(root, "src", "volopt", "opversions.tsv"))
    parser.add_argument("--table", default=os.path.join(root, "src", "volopt", "table.tsv"))
    args = parser.parse_args()

    with open(args.table) as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f if line.strip()]
    samples = [(r["key"], r.get("valid_sample", "-")) for r in rows]
    samples = [(k, v) for k, v in samples if v not in ("-", "") and r_scope(rows, k) == "volume"]

    out_rows = []
    with private_glusterd(args.address) as gd:
        gd.cli(["volume", "create", "v", gd.brick("v"), "force"], check=True)
        gd.cli(["volume", "reset", "v", "all"])
        op, client = info_versions(gd.work, "v")
        out_rows.append(("-", op, client, "baseline"))
        for key, value in samples:
            gd.cli(["volume", "reset", "v", "all"])
            done = gd.cli(["volume", "set", "v", key, value])
            said = "ok" if done.returncode == 0 else (done.stdout + done.stderr).strip()
            op, client = info_versions(gd.work, "v")
            out_rows.append((key, op, client, said.replace("\t", " ").replace("\n", " ")))
    with open(args.out, "w") as f:
        f.write("key\top_version\tclient_op_version\tset\n")
        for row in out_rows:
            f.write("\t".join(row) + "\n")
    print(f"{len(out_rows)} rows written to {args.out}")


def r_scope(rows, key):
    for r in rows:
        if r["key"] == key:
            return r.get("scope", "volume").split(";")[0]
    return "volume"


if __name__ == "__main__":
    main()
