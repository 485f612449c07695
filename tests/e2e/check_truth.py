#!/usr/bin/env python3
"""Check `sms-agent verify --json` output and its text list against gen_tree.py's truth.

usage:
  check_truth.py truth DATA_DIR RESULT_JSON LIST_FILE [--mode hash|quick] [--label L]
      counters of RESULT_JSON and the paths of LIST_FILE (text format) equal DATA_DIR/truth.json
      and DATA_DIR/truth/*.nul.
  check_truth.py same RESULT_JSON_A LIST_A RESULT_JSON_B LIST_B [--label L]
      two runs (e.g. local and ssh://) reported the same: every counter and the same list.
  check_truth.py counts DATA_DIR RESULT_JSON [--mode hash|quick] [--label L]
      counters only (for the benchmark script, which writes no list).

Counting rule: truth.json counts regular files in "expected" and symlinks apart in "symlinks";
our counters count every non-directory entry of the source, so
  total = expected.total + symlinks.src_symlinks,  different = expected.different + symlinks.target_differs,
  missing = expected.missing_on_target + symlinks.missing_on_target,
  extra = expected.extra_on_target + symlinks.extra_on_target.
In quick mode (size + mtime) the same-size edits keep their mtime, so only the size changes differ.

Text list: one entry a line, `S path` with S in `= * - + ~ !`; inside the path `\\\\` is a
backslash, `\\n` `\\r` `\\t` newline, CR, tab, `\\xHH` any other control byte; bytes >= 0x80 raw.
Directory entries in the list (if any) are ignored: the truth lists name regular files only.
Prints one PASS/FAIL line per check; exit 0 when all pass, 1 otherwise. Python 3 stdlib only.
"""
import argparse
import json
import os
import stat
import sys

SIGILS = b"=*-+~!%"


class Checker:
    def __init__(self, label):
        self.label = label
        self.failures = 0

    def check(self, ok, what, detail=""):
        tag = "PASS" if ok else "FAIL"
        line = "%s %s: %s" % (tag, self.label, what)
        if detail and not ok:
            line += "\n    " + detail.replace("\n", "\n    ")
        print(line, flush=True)
        if not ok:
            self.failures += 1
        return ok

    def info(self, what):
        print("info %s: %s" % (self.label, what), flush=True)


def load_json(path):
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return json.loads(data)
    except ValueError as e:
        raise SystemExit("FAIL %s is not one JSON object (%s): %r" % (path, e, data[:300]))


def counters(result):
    """Sum of the num_* counters over every dir_check (one entry, '/', by default)."""
    dirs = result.get("consistency_result") or []
    total = {}
    for d in dirs:
        for k, v in d.items():
            if k.startswith("num_") and isinstance(v, int):
                total[k] = total.get(k, 0) + v
    return total, dirs


def expected_counts(truth, mode):
    e, s = truth["expected"], truth.get("symlinks") or {}
    diff = e["different"] if mode == "hash" else e["different_size"]
    return {
        "num_total_files": e["total"] + s.get("src_symlinks", 0),
        "num_different_files": diff + s.get("target_differs", 0),
        "num_target_miss_files": e["missing_on_target"] + s.get("missing_on_target", 0),
        "num_target_more_files": e["extra_on_target"] + s.get("extra_on_target", 0),
        "num_changed_files": 0,
        "num_error_files": 0,
        "num_metadata_different_files": 0,
    }


def check_counts(c, truth, result, mode):
    exp = expected_counts(truth, mode)
    got, dirs = counters(result)
    c.check(result.get("check_result") == "success", "check_result is \"success\"",
            "got %r" % result.get("check_result"))
    c.check(result.get("consistent") is False, "consistent is false", "got %r" % result.get("consistent"))
    c.check(result.get("mode") == mode, "mode is %s" % mode, "got %r" % result.get("mode"))
    c.check(len(dirs) >= 1, "consistency_result has a directory entry", "got %r" % dirs)
    if len(dirs) == 1:
        c.check(dirs[0].get("dir_check") == "/", "dir_check is \"/\"", "got %r" % dirs[0].get("dir_check"))
    for k, v in exp.items():
        if k not in got:
            c.check(False, "%s present" % k, "missing from %r" % sorted(got))
            continue
        c.check(got[k] == v, "%s = %d" % (k, v), "got %d (expected %d)" % (got[k], v))
    st = truth["stats"]
    if mode == "hash" and "num_bytes_verified" in got:
        c.info("num_bytes_verified = %d (src %d + dst %d bytes in the trees)"
               % (got["num_bytes_verified"], st["src_bytes"], st["dst_bytes"]))
    return got


def unescape(c, esc, lineno):
    out = bytearray()
    i, n = 0, len(esc)
    simple = {ord("\\"): 0x5C, ord("n"): 0x0A, ord("r"): 0x0D, ord("t"): 0x09}
    while i < n:
        b = esc[i]
        if b != 0x5C:
            if b < 0x20 or b == 0x7F:
                c.check(False, "list line %d: no raw control byte" % lineno, "byte 0x%02x in %r" % (b, esc))
            out.append(b)
            i += 1
            continue
        if i + 1 >= n:
            c.check(False, "list line %d: escape complete" % lineno, "dangling backslash in %r" % esc)
            break
        e = esc[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == ord("x") and len(esc[i + 2:i + 4]) == 2 \
                and all(chr(x) in "0123456789abcdefABCDEF" for x in esc[i + 2:i + 4]):
            out.append(int(esc[i + 2:i + 4], 16))
            i += 4
        else:
            c.check(False, "list line %d: known escape" % lineno, "unknown escape %r in %r" % (esc[i:i + 4], esc))
            out.append(b)
            i += 1
    return bytes(out)


def parse_list(c, path):
    """-> {sigil(bytes of 1): [path bytes, ...]}"""
    with open(path, "rb") as fh:
        data = fh.read()
    entries = {bytes([s]): [] for s in SIGILS}
    if data and not data.endswith(b"\n"):
        c.check(False, "list ends with a newline", "last bytes %r" % data[-40:])
    bad = 0
    for lineno, ln in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"), 1):
        if not ln:
            continue
        if len(ln) < 3 or ln[0] not in SIGILS or ln[1:2] != b" ":
            bad += 1
            if bad <= 5:
                c.check(False, "list line %d has the form 'S path'" % lineno, repr(ln[:200]))
            continue
        p = unescape(c, ln[2:], lineno)
        entries[ln[:1]].append(p)
    if bad > 5:
        c.check(False, "list lines well formed", "%d malformed lines in all" % bad)
    return entries


def norm(p):
    # relative to the root; tolerate a leading "/" or "./"
    if p.startswith(b"./"):
        return p[2:]
    if p.startswith(b"/"):
        return p[1:]
    return p


def kind(root, rel):
    try:
        m = os.lstat(os.path.join(root, rel)).st_mode
    except OSError:
        return "absent"
    if stat.S_ISDIR(m):
        return "dir"
    if stat.S_ISLNK(m):
        return "symlink"
    if stat.S_ISREG(m):
        return "file"
    return "special"


def read_nul(path):
    try:
        with open(path, "rb") as fh:
            return set(p for p in fh.read().split(b"\0") if p)
    except FileNotFoundError:
        return None


def show(paths, limit=8):
    paths = sorted(paths)
    s = ", ".join(repr(p)[1:] for p in paths[:limit])
    return s + (" ... (%d in all)" % len(paths) if len(paths) > limit else "")


def check_list(c, data, truth, lst, mode, got):
    src, dst = os.fsencode(os.path.join(data, "src")), os.fsencode(os.path.join(data, "dst"))
    entries = parse_list(c, lst)
    tdir = os.path.join(data, "truth")
    sym = truth.get("symlinks") or {}
    diff_list = "different.nul" if mode == "hash" else "different_size.nul"
    plan = [(b"*", diff_list, src, "target_differs", "different"),
            (b"-", "missing_on_target.nul", src, "missing_on_target", "missing on target"),
            (b"+", "extra_on_target.nul", dst, "extra_on_target", "extra on target")]
    dirs_seen = 0
    for sig, nul, root, symkey, what in plan:
        want = read_nul(os.path.join(tdir, nul))
        files, links, other = set(), 0, []
        for p in entries[sig]:
            p = norm(p)
            trailing = p.endswith(b"/")
            k = "dir" if trailing else kind(root, p)
            if k == "dir":
                dirs_seen += 1
            elif k == "file":
                files.add(p)
            elif k == "symlink":
                links += 1
            else:
                other.append(p)
        dup = len(entries[sig]) - len(set(entries[sig]))
        c.check(dup == 0, "list '%s' lines are unique" % sig.decode(), "%d duplicates" % dup)
        c.check(not other, "list '%s' paths exist on the %s side" % (sig.decode(), "target" if sig == b"+" else "source"),
                show(other))
        if want is None:
            c.check(False, "truth/%s exists" % nul)
            continue
        c.check(files == want, "list '%s' regular files = truth/%s (%d paths)" % (sig.decode(), nul, len(want)),
                "only in list: %s\nonly in truth: %s" % (show(files - want), show(want - files)))
        c.check(links == sym.get(symkey, 0), "list '%s' symlinks = %d (%s)" % (sig.decode(), sym.get(symkey, 0), what),
                "got %d" % links)
    for sig in (b"~", b"!", b"%"):
        c.check(not entries[sig], "no '%s' entries" % sig.decode(), show(entries[sig]))
    if dirs_seen:
        c.info("%d directory entries in the list (ignored)" % dirs_seen)
    eq = [p for p in entries[b"="] if not norm(p).endswith(b"/") and kind(src, norm(p)) != "dir"]
    if eq:
        same = got.get("num_total_files", 0) - got.get("num_different_files", 0) - got.get("num_target_miss_files", 0)
        c.check(len(eq) == same, "list '=' entries = total - different - missing (%d)" % same, "got %d" % len(eq))


# What a run cost rather than what it found: a check with a warm hash cache reads less and reports
# the same verdicts.
COST_COUNTERS = {"num_bytes_read", "num_cached_files", "num_target_bytes_read",
                 "num_target_cached_files"}


def check_same(c, ja, la, jb, lb, any_algorithm=False):
    a, b = load_json(ja), load_json(jb)
    for k in ("check_result", "consistent", "mode") + (() if any_algorithm else ("hash_algorithm",)):
        c.check(a.get(k) == b.get(k), "same %s" % k, "%r vs %r" % (a.get(k), b.get(k)))
    da, db = a.get("consistency_result") or [], b.get("consistency_result") or []
    c.check(len(da) == len(db), "same number of directories", "%d vs %d" % (len(da), len(db)))
    for x, y in zip(da, db):
        keys = sorted(k for k in set(x) | set(y)
                      if (k == "dir_check" or k.startswith("num_")) and k not in COST_COUNTERS)
        diffs = ["%s: %r vs %r" % (k, x.get(k), y.get(k)) for k in keys if x.get(k) != y.get(k)]
        c.check(not diffs, "same counters for %s (%d counters)" % (x.get("dir_check"), len(keys)), "\n".join(diffs))
    with open(la, "rb") as fh:
        A = fh.read()
    with open(lb, "rb") as fh:
        B = fh.read()
    if A == B:
        c.check(True, "same list (%d lines, byte-identical)" % A.count(b"\n"))
    else:
        sa, sb = A.split(b"\n"), B.split(b"\n")
        if sorted(sa) == sorted(sb):
            c.check(False, "same list, same order", "same lines, different order")
        else:
            only_a, only_b = set(sa) - set(sb), set(sb) - set(sa)
            c.check(False, "same list", "only in first: %s\nonly in second: %s" % (show(only_a), show(only_b)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("truth")
    t.add_argument("data"), t.add_argument("result"), t.add_argument("list")
    t.add_argument("--mode", default="hash", choices=("hash", "quick"))
    t.add_argument("--label", default="verify")
    n = sub.add_parser("counts")
    n.add_argument("data"), n.add_argument("result")
    n.add_argument("--mode", default="hash", choices=("hash", "quick"))
    n.add_argument("--label", default="verify")
    s = sub.add_parser("same")
    s.add_argument("result_a"), s.add_argument("list_a"), s.add_argument("result_b"), s.add_argument("list_b")
    s.add_argument("--label", default="same")
    s.add_argument("--any-algorithm", action="store_true",
                   help="the runs may use different hash algorithms")
    a = ap.parse_args()
    c = Checker(a.label)
    if a.cmd in ("truth", "counts"):
        with open(os.path.join(a.data, "truth.json")) as fh:
            truth = json.load(fh)
        got = check_counts(c, truth, load_json(a.result), a.mode)
        if a.cmd == "truth":
            check_list(c, a.data, truth, a.list, a.mode, got)
    else:
        check_same(c, a.result_a, a.list_a, a.result_b, a.list_b, a.any_algorithm)
    print("%s %s: %s" % ("PASS" if not c.failures else "FAIL", a.label,
                         "all checks" if not c.failures else "%d check(s) failed" % c.failures), flush=True)
    return 0 if not c.failures else 1


if __name__ == "__main__":
    sys.exit(main())
