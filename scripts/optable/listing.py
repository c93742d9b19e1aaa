#!/usr/bin/env python3
"""Writes src/volopt/listing.tsv: what glusterd 10.3's `volume get` lists, in its order.

brickd's `volume get VOL all` and `volume get all all` print these rows (with the volume's or
the pool's own values where set). This script asks a private glusterd, never the system one:

    scripts/optable/listing.py [--address 127.77.0.4] [--out src/volopt/listing.tsv]

It starts glusterd on a fresh working directory bound to --address (port 24007), creates a
one-brick distribute volume (a plain directory, `force`), reads `volume get VOL all --xml` and
`volume get all all --xml`, and stops glusterd again, whatever happens. The rows keep
glusterd's order and its duplicates (`performance.cache-size` is listed twice: io-cache's and
quick-read's). Columns: `context` (`volume`: `volume get VOL all`; `all`: `volume get all all`),
`key`, `shown` (the value text exactly as printed for a volume and a pool that set nothing).

Needs root, glusterfs-server and glusterfs-cli 10.3, python3.
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET

from privgd import private_glusterd


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.77.0.4")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument(
        "--out", default=os.path.join(here, "..", "..", "src", "volopt", "listing.tsv")
    )
    args = parser.parse_args()

    rows = []
    with private_glusterd(args.address) as gd:
        gd.cli(["volume", "create", "v", gd.brick("v"), "force"], check=True)
        for context, target in (("volume", "v"), ("all", "all")):
            out = gd.cli(["--xml", "volume", "get", target, "all"], check=True).stdout
            for opt in ET.fromstring(out).iter("Opt"):
                key, value = opt.findtext("Option"), opt.findtext("Value")
                if "\t" in key + value or "\n" in key + value:
                    sys.exit(f"unexpected text in {key!r} {value!r}")
                rows.append((context, key, value))
    with open(args.out, "w") as f:
        f.write("context\tkey\tshown\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    print(f"{len(rows)} rows written to {args.out}")


if __name__ == "__main__":
    main()
