"""What bench.sh's tables share (its scenario table and
bench_recheck_table.py): reading a run's files in the results directory and
the figures GNU time (`/usr/bin/time -v`) wrote for it.
"""
import os
import re


def read(res, name):
    """The text of RES/NAME, or "" when it is not there."""
    try:
        return open(os.path.join(res, name), "rb").read().decode("utf-8", "replace")
    except OSError:
        return ""


def gnu_time(res, name):
    """{wall_s, cpu_s, maxrss_mb} from RES/NAME.time, or None without one."""
    txt = read(res, name + ".time")
    if not txt:
        return None
    g = lambda k: re.search(re.escape(k) + r": (.*)", txt).group(1).strip()
    w = 0.0
    for x in g("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        w = w * 60 + float(x)
    return {"wall_s": w, "cpu_s": float(g("User time (seconds)")) + float(g("System time (seconds)")),
            "maxrss_mb": int(g("Maximum resident set size (kbytes)")) / 1024}
