#!/usr/bin/env python3
"""The markdown table of bench.sh's recheck scenarios (issue 12's hash cache).

usage: bench_recheck_table.py SCENARIO DATA RESULTS REPS COLD CHECK_TRUTH
Reads RESULTS/<run>.<rep>.{time,stdout,rc} as bench.sh's recheck() wrote them, keeps the fastest
repetition of each run, checks our counts against DATA/truth.json with CHECK_TRUTH, prints the
table and the issue's goals, and exits 1 when one of our runs got the counts wrong.
"""
import json
import os
import subprocess
import sys

from bench_results import gnu_time, read as read_result

scen, data, res = sys.argv[1], sys.argv[2], sys.argv[3]
reps, cold, check = int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6]
truth = json.load(open(os.path.join(data, "truth.json")))


def rd(p):
    return read_result(res, p)


def timing(name):
    t = gnu_time(res, name)
    return dict(t, name=name) if t else None


def best(key):
    ts = [t for t in (timing("%s.%d" % (key, r)) for r in range(1, reps + 1)) if t]
    return min(ts, key=lambda t: t["wall_s"]) if ts else None


def ours(t):
    """(bytes read on both sides, digests reused on both sides, counts correct?)"""
    try:
        j = json.loads(rd(t["name"] + ".stdout"))
    except ValueError:
        return None, None, "no (exit %s)" % rd(t["name"] + ".rc").strip()
    d = j.get("consistency_result") or []
    read = sum(x.get("num_bytes_read", 0) + x.get("num_target_bytes_read", 0) for x in d)
    reused = sum(x.get("num_cached_files", 0) + x.get("num_target_cached_files", 0) for x in d)
    ok = subprocess.run([sys.executable, check, "counts", data, os.path.join(res, t["name"] + ".stdout"),
                         "--label", t["name"]], capture_output=True).returncode == 0
    return read, reused, "yes" if ok else "**NO**"


RUNS = (("full_cold", "full check (`--no-cache`), page cache dropped"),
        ("cached_cold", "re-check with the cache, page cache dropped"),
        ("changed_cold", "re-check after 1% rewritten, page cache dropped"),
        ("rsync_cold", "`rsync -rcn --delete`, page cache dropped"),
        ("walk_cold", "floor: `find` + lstat both trees, page cache dropped"),
        ("dfloor_stat_cold", "disk floor: lstat every entry (`sms-disk-floor --stat-only`), page cache dropped"),
        ("dfloor_read_cold", "disk floor: open + read every file (`sms-disk-floor`), page cache dropped"),
        ("full_warm", "full check (`--no-cache`), warm page cache"),
        ("cached_warm", "re-check with the cache, warm page cache"),
        ("changed_warm", "re-check after 1% rewritten, warm page cache"),
        ("rsync_warm", "`rsync -rcn --delete`, warm page cache"),
        ("walk_warm", "floor: `find` + lstat both trees, warm page cache"))
rows, by = [], {}
for key, label in RUNS:
    t = best(key)
    if t:
        by[key] = t
        rows.append((key, label, t))

st = truth["stats"]
out = ["### %s: %s source files, %.2f GB over both trees\n" % (
    scen, format(st["src_files"], ","), (st["src_bytes"] + st["dst_bytes"]) / 1e9)]
if not cold:
    out.append("(no rows with the page cache dropped: RECHECK_COLD=0, or /proc/sys/vm/drop_caches is "
               "not writable here)\n")
out.append("| run | wall s | CPU s | peak RSS MB | bytes read (both sides) | digests reused (both sides) "
           "| counts correct? | × faster than the full check | × faster than rsync -rcn | × the walk floor |")
out.append("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
verdicts = {}
for key, label, t in rows:
    temp = key.rsplit("_", 1)[1]
    full, rs = by.get("full_" + temp), by.get("rsync_" + temp)
    peer = key.startswith(("rsync", "walk", "dfloor"))
    if peer:
        read, reused, ok = "", "", "–"
    else:
        read, reused, ok = ours(t)
        verdicts[key] = ok
        read = "%.1f MB" % (read / 1e6) if read is not None else ""
        reused = format(reused, ",") if reused is not None else ""
    w = max(t["wall_s"], 1e-3)
    walk = by.get("walk_" + temp)
    out.append("| %s | %.2f | %.2f | %.1f | %s | %s | %s | %s | %s | %s |" % (
        label, t["wall_s"], t["cpu_s"], t["maxrss_mb"], read, reused, ok,
        "%.2f" % (full["wall_s"] / w) if full and not peer else "–",
        "%.2f" % (rs["wall_s"] / w) if rs else "–",
        "%.2f" % (w / max(walk["wall_s"], 1e-3)) if walk else "–"))


def goal(label, num, den, want):
    a, b = by.get(num), by.get(den)
    if not a or not b:
        out.append("- %s: not measured" % label)
        return
    x = b["wall_s"] / max(a["wall_s"], 1e-3)
    out.append("- %s: %.2f× — %s" % (label, x, "met" if x >= want else "**missed**"))


out.append("")
if scen == "recheck-tiny":
    goal("1 M tiny files, unchanged, warm page cache: re-check ≥ 3× faster than the full check",
         "cached_warm", "full_warm", 3)
    goal("1 M tiny files, unchanged, page cache dropped: ≥ 3×", "cached_cold", "full_cold", 3)
else:
    goal("unchanged, page cache dropped: re-check ≥ 10× faster than the full check",
         "cached_cold", "full_cold", 10)
    goal("unchanged, warm page cache: ≥ 2×", "cached_warm", "full_warm", 2)
    goal("1% rewritten, page cache dropped: ≥ 10×", "changed_cold", "full_cold", 10)
    goal("1% rewritten, warm page cache: ≥ 2×", "changed_warm", "full_warm", 2)
fs, fr = by.get("dfloor_stat_cold"), by.get("dfloor_read_cold")
if fs and fr:
    # A re-check must still lstat every entry, a full check open and read every file: the
    # ratio of the two floors is the most any re-check can gain on this disk.
    out.append("- disk floor, page cache dropped: lstat only %.2f s (CPU %.2f), open + read %.2f s "
               "(CPU %.2f): at most %.2f× between a full check and a re-check on this disk" % (
                   fs["wall_s"], fs["cpu_s"], fr["wall_s"], fr["cpu_s"],
                   fr["wall_s"] / max(fs["wall_s"], 1e-3)))
ok = all(v == "yes" for v in verdicts.values())
out.append("- our counts equal the truth in every run: %s" % ("yes" if ok else "**NO**"))
print("\n".join(out) + "\n")
sys.exit(0 if ok else 1)
