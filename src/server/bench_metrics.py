#!/usr/bin/env python3
"""What a Prometheus scrape of sms-server costs (GET /metrics), on loopback.

TASKS sources with one task each, each task with RUNS committed runs (one
directory; verdicts mixed: consistent, inconsistent, failed), then SCRAPES
scrapes one after another on one keep-alive connection. Prints, as a
Markdown table: the scrape's wall time (median, p90), the server's CPU time
per scrape (user+sys of the server process over the scrapes, from
/proc/PID/stat), the database part as the server reports it
(sms_database_scrape_duration_seconds, median) and the body's size; plus
the load average, since the machine may be shared. On PostgreSQL the
database's own CPU time is in its processes, not in the server's column.

Usage: src/server/bench_metrics.py BUILD_DIR [--tasks 1000] [--runs 20]
       [--scrapes 20] [--rounds 3] [--compare OTHER_BUILD_DIR] [--pg]
  --compare: after seeding, the two builds' servers take turns on the same
        database, --rounds times each (an A/B on a machine whose load
        changes); without it, BUILD_DIR's alone.
  --pg: on a throw-away PostgreSQL 15 cluster (tests/support/pg.sh)
        instead of SQLite in a temp directory.
SMS_KEEP_TMP=1 keeps the temp directory (the SQLite database) and names it.
"""
import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from detail_upload import commit_run, Conn, dir_result  # noqa: E402
from harness import Client, ServerProcess  # noqa: E402
from scratch_db import scratch_database  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """user + sys of process `pid` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def seed(srv, tasks, runs):
    c = Client(srv)
    token = c.login("d", "op", "bench-metrics-password")
    conn = Conn(srv.url, token)
    for i in range(tasks):
        _, src = c.json("POST", "/v3/sources", {
            "name": "src-%05d" % i, "os_type": "LINUX"}, token)
        _, task = c.json("POST", "/v3/tasks", {
            "name": "task-%05d" % i, "os_type": "LINUX",
            "source_server": {"id": src["id"]},
            "target_server": {"name": "t-%05d" % i}}, token)
        base = "/v3/tasks/%s/consistency-result" % task["id"]
        for r in range(runs):
            run_id = str(uuid.uuid4())
            if (i + r) % 7 == 0:
                conn.call("POST", base, (
                    '{"run_id":"%s","check_result":"failed","error_msg":"x",'
                    '"finished_time":%d,"consistency_result":[]}'
                    % (run_id, 1736854315000 + r)).encode())
            else:
                commit_run(conn, base, run_id, 1736854315000 + r,
                           [dir_result("/data", 100, int((i + r) % 3 == 0))])
    return token


def scrape_once(conn):
    t0 = time.monotonic()
    body = conn.call("GET", "/metrics")
    wall = time.monotonic() - t0
    m = re.search(rb"^sms_database_scrape_duration_seconds (\S+)$", body,
                  re.M)
    return wall, float(m.group(1)) if m else 0.0, len(body)


def measure(binary, db, log, token, scrapes):
    """A server `binary` on `db`: one warm-up scrape, then `scrapes`; ->
    the table's row."""
    srv = ServerProcess(binary, ["--db", db], log)
    srv.start()
    try:
        conn = Conn(srv.url, token)
        scrape_once(conn)  # warm: statements prepared, pages cached
        cpu0 = cpu_seconds(srv.proc.pid)
        walls, dbs, size = [], [], 0
        for _ in range(scrapes):
            wall, db_seconds, size = scrape_once(conn)
            walls.append(wall)
            dbs.append(db_seconds)
        cpu = (cpu_seconds(srv.proc.pid) - cpu0) / scrapes
    finally:
        srv.stop()
    walls.sort()
    return "%.1f | %.1f | %.1f | %.1f | %.0f" % (
        statistics.median(walls) * 1000,
        walls[max(0, int(len(walls) * 0.9) - 1)] * 1000, cpu * 1000,
        statistics.median(dbs) * 1000, size / 1024)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--scrapes", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compare", metavar="OTHER_BUILD_DIR")
    ap.add_argument("--pg", action="store_true")
    a = ap.parse_args()
    builds = [a.build] + ([a.compare] if a.compare else [])
    work = tempfile.mkdtemp(prefix="sms-bench-metrics-")
    rows = []
    binary = os.path.join(a.build, "bin", "sms-server")
    try:
        with scratch_database(binary, work, "bench-metrics-password",
                              a.pg) as db:
            srv = ServerProcess(binary, ["--db", db],
                                os.path.join(work, "log"))
            srv.start()
            try:
                t0 = time.monotonic()
                token = seed(srv, a.tasks, a.runs)
                seeded = time.monotonic() - t0
            finally:
                srv.stop()
            # The builds alternately, on the same database, so a load that
            # comes and goes on a shared machine falls on both.
            for r in range(a.rounds):
                for b in builds:
                    rows.append("| %d | %s | %s | %s |" % (
                        r + 1, b,
                        measure(os.path.join(b, "bin", "sms-server"), db,
                                os.path.join(work, "log"), token, a.scrapes),
                        " ".join("%.1f" % x for x in os.getloadavg())))
    finally:
        if os.environ.get("SMS_KEEP_TMP") == "1":
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d sources x 1 task each, %d runs a task (seeded in %.0f s), %s, "
          "%d scrapes a row" % (a.tasks, a.runs, seeded,
                                "PostgreSQL 15" if a.pg else "SQLite",
                                a.scrapes))
    print()
    print("| round | build | wall median ms | wall p90 ms | server CPU "
          "ms/scrape | database ms (median) | body KiB | load average |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
