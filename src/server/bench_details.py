#!/usr/bin/env python3
"""Details upload throughput of sms-server (issue 13.3), on loopback.

One task; RUNS runs, each of CHUNKS detail chunks of FILES differing files
(POST .../consistency-result/details, then the run's commit). The same
paths in every run, so from the second run on every row continues the
streak of the run before (first_seen_run is looked up for each). Prints a
Markdown table: per run, the seconds and rows/s of staging its chunks and
the seconds of its commit. The chunk bodies are made before the clock
starts; one keep-alive connection sends them one after another.

Usage: src/server/bench_details.py BUILD_DIR [--chunks 100] [--files 10000]
       [--runs 3] [--dirs 10] [--pg] [--shuffled]
  --pg: on a throw-away PostgreSQL 15 cluster (tests/support/pg.sh, fsync
        on) instead of SQLite in a temp directory.
  --shuffled: each chunk's paths spread over its directory instead of in
        the agent's (sorted) order.
"""
import argparse
import os
import sys
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from detail_upload import (commit_run, Conn, dir_result,  # noqa: E402
                           encode_files, new_task, stage_details)
from harness import Client  # noqa: E402
from scratch_db import scratch_server  # noqa: E402


def chunk_files(seq, files, dirs, chunks, shuffled):
    """The JSON text of the files of chunk `seq` (the same in every run): in
    the agent's order (each directory's chunks in a row, paths sorted), or
    with paths spread over the directory (`shuffled`: the worst case for the
    database's page cache)."""
    out = []
    for i in range(files):
        n = seq * files + i
        side = {"type": "file", "size": 4096 + n % 977, "mtime": 1736854315000,
                "mode": 0o644, "hash": "%032x" % (n * 2654435761)}
        other = dict(side, hash="%032x" % (n * 40503 + 7))
        sub = n % 997 if shuffled else n // 1000
        out.append({"dir_check": "/data/d%d" % (seq * dirs // chunks),
                    "path": "sub%03d/file-%08d.dat" % (sub, n),
                    "status": "different", "reason": "content",
                    "source": side, "target": other})
    return encode_files(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--chunks", type=int, default=100)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dirs", type=int, default=10)
    ap.add_argument("--pg", action="store_true")
    ap.add_argument("--shuffled", action="store_true")
    a = ap.parse_args()
    with scratch_server(a.build, "bench-details", a.pg) as srv:
        run_bench(srv, a)


def run_bench(srv, a):
    c = Client(srv)
    token = c.login("d", "op", "bench-details-password")
    base = new_task(c, token)
    bodies = [chunk_files(s, a.files, a.dirs, a.chunks, a.shuffled)
              for s in range(a.chunks)]
    conn = Conn(srv.url, token)
    rows = a.chunks * a.files
    print("%d chunks x %d files (%d rows a run, %d directories, %s), %s" % (
        a.chunks, a.files, rows, a.dirs,
        "paths shuffled" if a.shuffled else "in path order",
        "PostgreSQL 15 (fsync on)" if a.pg else "SQLite"))
    print()
    print("| run | staging s | rows/s | commit s |")
    print("|---|---|---|---|")
    for r in range(a.runs):
        run_id = str(uuid.uuid4())
        t0 = time.monotonic()
        stage_details(conn, base, run_id, bodies)
        staged = time.monotonic() - t0
        dirs = [dir_result("/data/d%d" % d, rows, rows // a.dirs)
                for d in range(a.dirs)]
        t1 = time.monotonic()
        commit_run(conn, base, run_id, 1736854315000 + r, dirs)
        committed = time.monotonic() - t1
        print("| %d | %.1f | %.0f | %.2f |" % (r + 1, staged, rows / staged,
                                              committed), flush=True)


if __name__ == "__main__":
    main()
