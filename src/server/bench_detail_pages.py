#!/usr/bin/env python3
"""Filtered pages of a large run's details, on loopback (docs/server.md,
"Paging a run's details").

Uploads one run of CHUNKS x FILES details (30 directories: /data/d0 ..
/data/d28 in upload order, then /data/small, 50 files in the last chunk;
every row "different" but one in 3,333, "target_miss", scattered through
the run), prints its upload rate, then pages GET .../consistency-result/
details (limit LIMIT, following next_marker, at most PAGES pages) without
a filter and with each filter below, and prints per filter the pages, the
rows, the wall ms a page (mean, max) and the server's CPU ms a page
(user+sys from /proc, mean). A filter is selective when it matches few rows
or only rows far from the start: before file_details_by_dir/_by_status on
SQLite (migration 0021) each such page read the run's rows after the
marker.

Usage: src/server/bench_detail_pages.py BUILD_DIR [--chunks 100]
       [--files 10000] [--limit 100] [--pages 5] [--pg]
  --pg: on a throw-away PostgreSQL 15 cluster (tests/support/pg.sh, fsync
        on) instead of SQLite in a temp directory.
"""
import argparse
import json
import os
import sys
import time
import urllib.parse
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from detail_upload import (commit_run, Conn, dir_result,  # noqa: E402
                           encode_files, new_task, stage_details)
from harness import Client  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

BIG_DIRS = 29
SMALL = "/data/small"
SMALL_FILES = 50
MISS_EVERY = 3333


def row_of(n, rows):
    """The directory and status of the run's row n of `rows`."""
    if n >= rows - SMALL_FILES:
        d = SMALL
    else:
        d = "/data/d%d" % (n * BIG_DIRS // (rows - SMALL_FILES))
    return d, "target_miss" if n % MISS_EVERY == 1234 else "different"


def chunk_files(seq, files, rows):
    out = []
    for i in range(files):
        n = seq * files + i
        d, status = row_of(n, rows)
        side = {"type": "file", "size": 4096 + n % 977, "mtime": 1736854315000,
                "mode": 0o644, "hash": "%032x" % (n * 2654435761)}
        f = {"dir_check": d, "path": "sub%03d/file-%08d.dat" % (n // 1000 %
                                                                1000, n),
             "status": status, "reason": "content", "source": side}
        if status == "different":
            f["target"] = dict(side, hash="%032x" % (n * 40503 + 7))
        out.append(f)
    return encode_files(out)


def cpu_ms(pid):
    """The process's user+sys CPU time in ms (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf(
        "SC_CLK_TCK")


def page_through(conn, base, pid, query, limit, max_pages):
    """Pages `query` (a dict of filters); (pages, rows, wall ms a page,
    max wall ms, CPU ms a page)."""
    marker = None
    walls = []
    rows = 0
    cpu0 = cpu_ms(pid)
    while len(walls) < max_pages:
        q = dict(query, limit=limit)
        if marker:
            q["marker"] = marker
        t0 = time.monotonic()
        page = json.loads(conn.call(
            "GET", base + "/details?" + urllib.parse.urlencode(q)))
        walls.append((time.monotonic() - t0) * 1000)
        rows += len(page["files"])
        marker = page.get("next_marker")
        if not marker:
            break
    cpu = cpu_ms(pid) - cpu0
    return (len(walls), rows, sum(walls) / len(walls), max(walls),
            cpu / len(walls))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--chunks", type=int, default=100)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--pages", type=int, default=5)
    ap.add_argument("--pg", action="store_true")
    a = ap.parse_args()
    with scratch_server(a.build, "bench-pages", a.pg) as srv:
        run_bench(srv, a)


def run_bench(srv, a):
    c = Client(srv)
    token = c.login("d", "op", "bench-pages-password")
    base = new_task(c, token)
    rows = a.chunks * a.files
    bodies = [chunk_files(s, a.files, rows) for s in range(a.chunks)]
    conn = Conn(srv.url, token)
    pid = srv.proc.pid
    print("%s, %d rows (%d chunks x %d), 30 directories, %d target_miss; "
          "load average %s" % (
              "PostgreSQL 15 (fsync on)" if a.pg else "SQLite", rows,
              a.chunks, a.files, len(range(1234, rows, MISS_EVERY)),
              " ".join(open("/proc/loadavg").read().split()[:3])))
    run_id = str(uuid.uuid4())
    cpu0 = cpu_ms(pid)
    t0 = time.monotonic()
    stage_details(conn, base, run_id, bodies)
    staged = time.monotonic() - t0
    staged_cpu = (cpu_ms(pid) - cpu0) / 1000
    counts = {}
    for n in range(rows):
        d, status = row_of(n, rows)
        counts.setdefault(d, [0, 0])[status == "target_miss"] += 1
    dirs = []
    for d, (diff, miss) in counts.items():
        r = dir_result(d, diff + miss, diff)
        r["num_target_miss_files"] = miss
        dirs.append(r)
    t1 = time.monotonic()
    commit_run(conn, base, run_id, 1736854315000, dirs)
    committed = time.monotonic() - t1
    print("upload: staging %.1f s (server CPU %.1f s), %.0f rows/s; "
          "commit %.2f s" % (staged, staged_cpu, rows / staged, committed))
    print()
    print("| filter | pages | rows | ms a page | max ms | server CPU ms a "
          "page |")
    print("|---|---|---|---|---|---|")
    last = "/data/d%d" % (BIG_DIRS - 1)
    for query in [{}, {"status": "target_miss"}, {"status": "different"},
                  {"dir_check": SMALL}, {"dir_check": "/data/d0"},
                  {"dir_check": last},
                  {"dir_check": "/data/d5", "status": "target_miss"},
                  {"dir_check": last, "status": "different"},
                  {"status": "target_more"}]:
        pages, got, mean, worst, cpu = page_through(conn, base, pid, query,
                                                    a.limit, a.pages)
        name = " & ".join("%s=%s" % kv for kv in query.items()) or "none"
        print("| %s | %d | %d | %.1f | %.1f | %.1f |" % (
            name, pages, got, mean, worst, cpu), flush=True)


if __name__ == "__main__":
    main()
