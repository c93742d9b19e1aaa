"""Phase T of probe.py: turns the raw observations in BASE/state into
src/volopt/table.tsv and tests/golden/volopt/*. Pure post-processing (no glusterd).

Run alone with: python3 scripts/optable/probe.py --phases T
"""

import json
import os
import re

from probe import (BOOL_WORDS, PREREQ, RANGE_RE, infer_type, is_refusal, load_json, split_default)

KIND_ORDER = ["brick", "fuse", "trusted", "gfproxyd", "gfproxy-client", "shd", "rebalance",
              "snapd", "fuse-rdma", "trusted-rdma", "global-options", "brickinfo"]
VT_ORDER = ["dist", "rep3", "disp", "dist-toggled"]
COLUMNS = ["key", "default", "shown", "defaults_by_type", "type", "min", "max", "values",
           "op_version", "op_version_exact", "client_op", "volfiles", "xlator_options", "valid_sample", "scope",
           "listed", "validated_on", "notes"]


def cell(v):
    if v is None:
        return "-"
    v = str(v)
    if v == "":
        return ""
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def msg_of(out, err):
    return (out + err).strip()


def kind_key(k):
    return (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k)


def merge_changes(list_of_changes):
    """[(vt, {kind: [changes]})] -> (volfiles str, xlator_options str)"""
    kinds = {}
    for vt, ch in list_of_changes:
        for kind, cs in (ch or {}).items():
            lst = kinds.setdefault(kind, [])
            for c in cs:
                if c.endswith("(removed)"):  # older probe.py notation
                    c = "-" + c[: -len("(removed)")]
                if c not in lst:
                    lst.append(c)
    if not kinds:
        return None, None
    ks = sorted(kinds, key=kind_key)
    opts = []
    for k in ks:
        for c in kinds[k]:
            opts.append("%s:%s" % (k, c))
    return ",".join(ks), ";".join(opts)


def template(msg, value, key):
    """Message -> template: the probed value becomes {value}, the xlator option name
    {option}, the key {key}, range bounds {min}/{max}, converted numbers {number}."""
    t = msg
    t = re.sub(r"range \[(-?[0-9.]+) - (-?[0-9.]+|inf)\]", "range [{min} - {max}]", t)
    t = re.sub(r"minimum value '(-?[0-9.]+)'", "minimum value '{min}'", t)
    t = re.sub(r"possible options are .*\.\)", "possible options are {values}.)", t)
    t = t.replace(key, "{key}")
    if value:
        rx = r"(?<![0-9A-Za-z.{])" + re.escape(value) + r"(?![0-9A-Za-z.%}])"
        t = re.sub(rx, "{value}", t)
    t = re.sub(r"'(-?[0-9]+(\.[0-9]+)?)' in 'option", "'{number}' in 'option", t)
    t = re.sub(r"^(.*?)(-?[0-9]+) (in|for) \{key\} (-?[0-9]+ )?is out of range",
               lambda m: "%s{number} %s {key} %sis out of range" % (
                   m.group(1), m.group(3), "{number} " if m.group(4) else ""), t)
    t = re.sub(r"option ([A-Za-z0-9_./-]+) \{value\}", "option {option} {value}", t)
    t = re.sub(r'in "option [^"]+"', 'in "option {option}"', t)
    t = re.sub(r'in option "[^"]+"', 'in option "{option}"', t)
    t = re.sub(r"Volume \S+ is not of", "Volume {volume} is not of", t)
    t = re.sub(r"Use volume set \S+ trash on", "Use volume set {volume} trash on", t)
    t = re.sub(r"\((\d+)\) is greater than the number of subvolumes\((\d+)\)",
               "({number}) is greater than the number of subvolumes({count})", t)
    return t


def run(args, state_dir):
    A = load_json(os.path.join(state_dir, "A.json"))
    S = load_json(os.path.join(state_dir, "S.json"), {"keys": {}})
    B = load_json(os.path.join(state_dir, "B.json"), {"keys": {}})
    O = load_json(os.path.join(state_dir, "O.json"), [])
    repo = args.repo
    gold = os.path.join(repo, "tests", "golden", "volopt")
    os.makedirs(gold, exist_ok=True)
    os.makedirs(os.path.join(repo, "src", "volopt"), exist_ok=True)

    listed = A["listed"]
    defaults = A["defaults"]
    global_get = A["global_get"]
    global_keys = [k for k, _ in global_get]
    # duplicates in `volume get all`
    dup = {}
    for i, (k, v) in enumerate(A["get_all"]["dist"]):
        dup.setdefault(k, []).append((i, v))

    rows = []
    templates = {}
    keys_order = list(listed) + [k for k in A["extra_keys"] if k not in listed]
    keys_order += [k for k in global_keys if k not in keys_order]
    for key in keys_order:
        r = dict.fromkeys(COLUMNS)
        r["key"] = key
        notes = []
        d = defaults["dist"].get(key)
        if d is not None:
            val, suffix = split_default(d)
            r["default"] = val
            r["shown"] = "(DEFAULT)" if suffix else "plain"
            r["listed"] = "yes"
        elif key in global_keys:
            r["listed"] = "all-only"
        else:
            r["shown"] = "unlisted"
            r["listed"] = "no"
        if len(dup.get(key, [])) > 1:
            notes.append("listed %d times by volume get all (values: %s); volume get VOL %s prints the first"
                         % (len(dup[key]), " | ".join(v for _, v in dup[key]), key))
        by_type = []
        for vt in ("rep3", "disp", "arbiter", "distrep"):
            tv = defaults.get(vt, {}).get(key)
            if tv is not None and tv != d:
                by_type.append("%s=%s" % ({"rep3": "replicate", "disp": "disperse",
                                           "arbiter": "arbiter", "distrep": "distributed-replicate"}[vt],
                                          tv))
        r["defaults_by_type"] = ";".join(by_type) if by_type else None

        if key in global_keys and key in A.get("global", {}):
            fill_global(r, key, A, notes, templates)
            bg = (B.get("global") or {}).get(key)
            if bg and bg.get("rc") == 0:
                cb, ca = int(bg["cluster_before"]), int(bg["cluster_after"])
                if ca > cb:
                    r["op_version"], r["op_version_exact"] = str(ca), "yes"
                    notes.append("volume set all raised the cluster op-version %d->%d" % (cb, ca))
                else:
                    notes.append("volume set all %s at cluster op-version %d: accepted, op-version unchanged"
                                 " (not measurable this way)" % (key, cb))
            elif bg:
                notes.append("op-version run: " + bg.get("msg", ""))
            if key == "cluster.server-quorum-ratio" and key in A["keys"]:
                notes.append("also a per-volume key: see the volume probes in the goldens")
            r["notes"] = "; ".join(notes) if notes else None
            rows.append(r)
            continue

        kr = A["keys"].get(key)
        if kr is None:
            r["notes"] = "not probed"
            rows.append(r)
            continue
        # type: from the types that validated
        # re-infer from the raw answers (infer_type may have improved since the probe)
        types = {}
        for vt, res in kr["invalid"].items():
            t = infer_type([tuple(x) for x in res], None)
            if t:
                types[vt] = t
        r["validated_on"] = ",".join(vt for vt in VT_ORDER if vt in types) or None
        tnames = {t["type"] for t in types.values()}
        first = None
        for vt in VT_ORDER:
            if vt in types:
                first = types[vt]
                break
        if first:
            r["type"] = first["type"] if len(tnames) == 1 else "mixed"
            if len(tnames) > 1:
                notes.append("type differs per volume type: " + ", ".join(
                    "%s=%s" % (vt, types[vt]["type"]) for vt in VT_ORDER if vt in types))
            r["min"], r["max"] = first.get("min"), first.get("max")
            if first.get("values"):
                r["values"] = ",".join('"%s"' % v if "," in v else v for v in first["values"])
            ranges = {vt: (t.get("min"), t.get("max")) for vt, t in types.items() if t.get("min") is not None}
            if len(set(ranges.values())) > 1:
                notes.append("range differs per volume type: " + ", ".join(
                    "%s=[%s - %s]" % (vt, a, b) for vt, (a, b) in ranges.items()))
            if first.get("glusterd_validated"):
                notes.append("value checked by glusterd itself (any non-boolean: 'Error, Validation Failed')")
        # refusals for a non-value reason, garbage accepted
        acc_garbage = []
        for vt in ("dist", "rep3", "disp", "dist-toggled"):
            res = kr["invalid"].get(vt)
            if not res:
                continue
            for v, rc, m in res:
                if rc != 0:
                    templates.setdefault(template(m, v, key), []).append(key)
            refusals = sorted({m for _, rc, m in res if rc != 0 and is_refusal(m)})
            for m in refusals:
                notes.append("refused on %s: %s" % (vt, m))
            if vt not in types and any(rc == 0 for _, rc, _ in res) and vt != "dist-toggled":
                acc_garbage.append(vt)
        commit_only = False
        if not types:
            fails = [m for vt in ("dist", "rep3", "disp") for _, rc, m in kr["invalid"].get(vt, []) if rc != 0]
            oks = {v for vt in ("dist", "rep3", "disp") for v, rc, _ in kr["invalid"].get(vt, []) if rc == 0}
            commit_only = fails and all("Commit failed" in m for m in fails) and oks <= BOOL_WORDS
        if commit_only:
            r["type"] = "bool"
            notes.append("a non-boolean passes staging and fails at commit ('Commit failed on localhost. "
                         "Please check the log file for more details.'); volume get then prints the old value")
            notes[:] = [n for n in notes if not n.startswith("refused on")]
        elif acc_garbage and not types:
            r["type"] = "str"
            notes.append("unvalidated: every probe value accepted on %s (type str is a guess)" % ",".join(acc_garbage))
        elif acc_garbage:
            notes.append("not validated on %s (accepted e.g. 'abc')" % ",".join(acc_garbage))
        # valid sample and volfile changes
        ch_list = []
        home = kr.get("home")
        sample = None
        # the sample: from a volume type that validated the key, else the first accepted
        for vt in [v for v in VT_ORDER if v in types] + VT_ORDER:
            vs = kr["valid"].get(vt)
            if vs and vs.get("rc") == 0 and sample is None:
                sample = vs["value"]
        for vt in VT_ORDER:
            vs = kr["valid"].get(vt)
            if vs and vs.get("rc") == 0:
                if vs.get("changes"):
                    ch_list.append((vt, vs["changes"]))
        sres = S["keys"].get(key) or {}
        if sres.get("rc") == 0 and sres.get("changes", {}).get("shd"):
            ch_list.append(("started", {"shd": sres["changes"]["shd"]}))
        r["volfiles"], r["xlator_options"] = merge_changes(ch_list)
        # structural toggles
        if r["xlator_options"]:
            added = sorted({x.split(":", 1)[1] for x in r["xlator_options"].split(";")
                            if x.split(":", 1)[1][:1] in "+-" and "file" not in x})
            if added and key != "config.transport":
                notes.append("toggle: the valid sample adds/removes xlators (%s)" % ",".join(added))
        r["valid_sample"] = sample
        if sample is None:
            atts = []
            for vt in VT_ORDER:
                vs = kr["valid"].get(vt)
                if vs:
                    atts += vs.get("attempts", [])
            notes.append("no valid value found (%d tried; e.g. %s)" % (
                len(atts), atts[0][2] if atts else "-"))
        elif not r["volfiles"]:
            notes.append("valid set changes no volfile (only vols/VOL/info)")
        vs = kr["valid"].get(home) if home else None
        if vs:
            prereq = {pk for pk, _ in PREREQ.get(key, [])}
            stored = [k for k in vs.get("stored_as", []) if k != key and k not in prereq]
            if stored:
                notes.append("stored in info as " + ",".join(stored))
            gas = vs.get("get_after_set") or []
            if gas and gas[0][1] != vs["value"]:
                notes.append("get after set prints %r" % gas[0][1])
            gar = vs.get("get_after_reset") or []
            dh = defaults.get(home, {}).get(key)
            if gar and dh is not None and gar[0][1] != dh:
                notes.append("get after reset prints %r (before set: %r)" % (gar[0][1], dh))
            elif gar and dh is None and gas and gar[0][1] == gas[0][1]:
                notes.append("get after reset still prints %r" % gar[0][1])
            if not gas:
                notes.append("volume get VOL KEY refuses it")
            air = dict(vs.get("info_after_reset") or [])
            if key in air:
                notes.append("volume reset VOL KEY keeps it (%s=%s)" % (key, air[key]))
        if home and home != "dist":
            notes.append("probed on %s" % home)
        # scope
        refused = []
        for vt in ("dist", "rep3", "disp"):
            res = kr["invalid"].get(vt) or []
            vv = kr["valid"].get(vt) or {}
            if vv.get("rc") != 0 and res and all(rc != 0 for _, rc, _ in res) and not types.get(vt):
                refused.append(vt)
        r["scope"] = "volume" + (";refused:" + ",".join(refused) if refused else "")
        # started pass
        if sres.get("skipped"):
            notes.append("not probed on a started volume")
        elif sres and sres.get("rc") not in (0, None) and sample is not None:
            notes.append("on a started replica volume: %s" % sres.get("msg"))
        # op-version
        fill_op_version(r, B["keys"].get(key) or {}, notes)
        if key in (B.get("propagating") or []):
            notes.append("set on one volume, it lands in every volume's options (vols/*/info)")
            r["scope"] = r["scope"] + ";all-volumes"
        r["notes"] = "; ".join(notes) if notes else None
        rows.append(r)

    with open(os.path.join(repo, "src", "volopt", "table.tsv"), "w") as f:
        f.write("\t".join(COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join(cell(r[c]) for c in COLUMNS) + "\n")

    write_goldens(state_dir, gold, templates)
    write_order_md(O, gold)
    print("table rows: %d" % len(rows))


def fill_op_version(r, bres, notes):
    """Phase B: volume op-version= after setting only this key (true value for booleans);
    a raise of the cluster op-version gives the key's op-version exactly as well."""
    for vt in ("dist", "rep3", "disp"):
        br = bres.get(vt)
        if not br:
            continue
        if br.get("rc") != 0:
            notes.append("op-version run (%s): %s" % (vt, br.get("msg")))
            continue
        op, op0 = int(br["op"]), int(br["op_before"])
        cop, cop0 = int(br["cop"]), int(br["cop_before"])
        cb, ca = int(br["cluster_before"]), int(br["cluster_after"])
        # once the cluster op-version is >= 2, glusterd's recount starts at 2 (default-on
        # open-behind): a rise to 2 says nothing about the key
        if ca >= 2:
            op0, cop0 = max(op0, 2), max(cop0, 2)
        if op > op0:
            r["op_version"], r["op_version_exact"] = str(op), "yes"
            r["client_op"] = "1" if cop >= op else "0"
        elif ca > cb:
            r["op_version"], r["op_version_exact"] = str(ca), "yes"
            r["client_op"] = "-"
        else:
            # at most the baseline: the volume's op-version did not move (1 is the minimum)
            r["op_version"], r["op_version_exact"] = str(op0), "at-most" if op0 > 1 else "yes"
            r["client_op"] = "-"
        if ca > cb:
            notes.append("setting it raised the cluster op-version %d->%d" % (cb, ca))
        if vt != "dist":
            notes.append("op-version measured on %s (baseline %d)" % (vt, op0))
        return


def fill_global(r, key, A, notes, templates):
    gr = A["global"][key]
    r["scope"] = "global"
    shown = gr["shown"]
    val, suffix = split_default(shown)
    r["default"] = val
    r["shown"] = "(DEFAULT)" if suffix else "plain"
    t = infer_type([tuple(x) for x in gr.get("invalid", [])], None) if gr.get("invalid") else None
    if t:
        r["type"] = t["type"]
        r["min"], r["max"] = t.get("min"), t.get("max")
        if t.get("values"):
            r["values"] = ",".join(t["values"])
    for v, rc, m in gr.get("invalid", []):
        if rc != 0:
            templates.setdefault(template(m, v, key), []).append(key)
    ms = {m for _, rc, m in gr.get("invalid", []) if rc != 0}
    if t and t["type"] == "mixed" and len(ms) >= 1:
        notes.append("glusterd message: " + sorted(ms)[0])
    notes.append("on a volume: " + gr["on_volume"][1])
    if key == "cluster.op-version":
        r["type"] = "uint"
        notes.append("volume set all only: must be above the current cluster op-version and at most "
                     "the max op-version, alone in its command (messages: misc.jsonl)")
    if key == "cluster.max-op-version":
        notes.append("read-only: volume set all answers 'Not a valid option to set'")
    v = gr.get("valid")
    if v:
        r["valid_sample"] = v["value"]
        r["volfiles"], r["xlator_options"] = merge_changes([("all", v["changes"])])
        gas = gr.get("get_after_reset") or []
        if gas:
            notes.append("after volume reset all KEY get prints %r" % gas[0][1])
        gr2 = gr.get("get_after_restore") or []
        if gr2:
            notes.append("after set back to the default get prints %r" % gr2[0][1])
    acc = [x[0] for x in gr.get("invalid", []) if x[1] == 0]
    if acc:
        notes.append("accepted: " + ",".join(acc))


def trim_key_records(recs):
    """Keeps per key: every invalid set on dist; on other types only those whose answer
    differs from dist for the same value; at most 2 failed valid attempts per type."""
    out = []
    dist_ans = {}
    failed_attempts = {}
    for r in recs:
        k = r.get("key")
        if r.get("kind") == "invalid" and r.get("vol_type") == "dist":
            dist_ans[(k, r["argv"][-1])] = (r["rc"], r["stderr"].strip() + r["stdout"].strip())
    for r in recs:
        k = r.get("key")
        if r.get("kind") == "invalid" and r.get("vol_type") != "dist":
            a = dist_ans.get((k, r["argv"][-1]))
            if a == (r["rc"], r["stderr"].strip() + r["stdout"].strip()):
                continue
        if r.get("kind") == "valid-attempt" and r["rc"] != 0:
            n = failed_attempts.get((k, r.get("vol_type")), 0)
            failed_attempts[(k, r.get("vol_type"))] = n + 1
            if n >= 2:
                continue
        out.append(r)
    return out


def write_jsonl(path, recs):
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")


def write_goldens(state_dir, gold, templates):
    """Raw CLI records (argv after --mode=script, vol_type, rc, stdout, stderr exactly)."""
    for old in os.listdir(gold):
        if old.endswith(".jsonl") or old.endswith(".tsv"):
            os.unlink(os.path.join(gold, old))
    total = {}
    for ph in ("A", "S", "B", "O", "N"):
        g = load_json(os.path.join(state_dir, ph + ".golden.json"), {})
        for fname, recs in g.items():
            if fname == "keys":
                recs = trim_key_records(recs)
                # sets made after a prerequisite set (PREREQ: features.trash on for
                # features.trash-dir, debug.trace posix for its sub-options, ...) go to their own
                # file, with the prerequisite: keys.jsonl stays "a volume as created"
                pre = []
                for r in recs:
                    if r.get("key") in PREREQ and r["argv"][:2] == ["volume", "set"]:
                        r = dict(r)
                        r["prereq"] = [list(x) for x in PREREQ[r["key"]]]
                        pre.append(r)
                total.setdefault("keys_prereq", []).extend(pre)
                recs = [r for r in recs if not (r.get("key") in PREREQ and r["argv"][:2] == ["volume", "set"])]
            if fname == "started":
                # keep refusals and the lifecycle commands; successes are in table.tsv
                recs = [r for r in recs if r["rc"] != 0 or r["argv"][1] != "set" or
                        "granular" in " ".join(r["argv"])]
            total.setdefault(fname, []).extend(recs)
    for fname, recs in total.items():
        write_jsonl(os.path.join(gold, fname + ".jsonl"), recs)
    with open(os.path.join(gold, "templates.tsv"), "w") as f:
        f.write("count\texample_key\ttemplate\n")
        for t, ks in sorted(templates.items(), key=lambda x: -len(x[1])):
            f.write("%d\t%s\t%s\n" % (len(ks), ks[0], cell(t)))


def write_order_md(O, gold):
    if not O:
        return
    lines = ["# Option order experiments (generated by scripts/optable/probe.py, phase O)", "",
             "Volume `o` (distribute, 1 brick) on a private glusterd 10.3. For every step: the",
             "command, its answer, the option keys of `vols/o/info` in file order, and the keys of",
             "`volume info o` \"Options Reconfigured\" (text) and `--xml` in printed order.", ""]
    for st in O:
        lines.append("## " + st["label"])
        lines.append("")
        if st.get("result"):
            lines.append("`gluster volume %s` -> rc %s: `%s`" % (" ".join(st["cmd"][1:]), st["result"][0],
                                                               st["result"][1].replace("\n", " / ")))
            lines.append("")
        lines.append("info file options: " + ", ".join(
            "%s=%s" % (k, v) for k, v in st["info_options_kv"]))
        lines.append("")
        lines.append("volume info (text): " + ", ".join(st["volume_info_options"]))
        lines.append("")
        lines.append("volume info --xml: " + ", ".join(st["volume_info_xml_options"]))
        lines.append("")
    lines.append("## Full info files")
    lines.append("")
    for st in O:
        lines.append("### " + st["label"])
        lines.append("")
        lines.append("```")
        lines.append(st["info_file"].rstrip("\n"))
        lines.append("```")
        lines.append("")
    with open(os.path.join(gold, "order-observations.md"), "w") as f:
        f.write("\n".join(lines))
