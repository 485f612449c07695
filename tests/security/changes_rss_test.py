#!/usr/bin/env python3
"""A million differing files page through the changes endpoint (issue 13.2),
against the real sms-server.

One task, two successful runs of one directory with SMS_CHANGES_FILES
(default 1,000,000) differing files each, uploaded as detail chunks of
10,000: the newer run shares half its paths with the older one. So
GET /v3/tasks/{id}/consistency-result/changes (the default pair) has
FILES / 2 `new`, FILES / 2 `persisting` and FILES / 2 `resolved` files.
Paged with limit=1000 and the markers the server hands out, every file is
seen exactly once, in (dir_check, path) order, and the server's peak RSS
over the whole paging (VmHWM, reset through /proc/PID/clear_refs before
the first page) stays under 256 MiB.

Slow (two million detail rows): runs only with SMS_SCALE_TESTS=1, else
exits 77 (skipped). Usage: changes_rss_test.py BUILD_DIR [--pg]
  --pg: on a throw-away PostgreSQL 15 cluster (tests/support/pg.sh)
"""
import json
import os
import sys
import time
import urllib.parse
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from harness import (check, Client, scratch_dir, ServerProcess,  # noqa: E402
                     summary_status)
from detail_upload import (commit_run, Conn, dir_result,  # noqa: E402
                           stage_details)
from proc_memory import reset_peak, vm_kib  # noqa: E402
from scratch_db import scratch_database  # noqa: E402

LIMIT_MIB = 256
CHUNK = 10000
PAGE = 1000


def path_of(n):
    """In path order as n grows, as the agent sends them."""
    return "d%04d/f%08d" % (n // 1000, n)


def upload_run(conn, base, first, count, finished):
    """A successful run whose differing files are numbers first..+count."""
    run_id = str(uuid.uuid4())
    chunks = ([{"dir_check": "/data", "path": path_of(n),
                "status": "different", "reason": "content"}
               for n in range(start, min(start + CHUNK, first + count))]
              for start in range(first, first + count, CHUNK))
    stage_details(conn, base, run_id, chunks)
    commit_run(conn, base, run_id, finished,
               [dir_result("/data", count, count)])
    return run_id


def main():
    if not os.environ.get("SMS_SCALE_TESTS"):
        print("skipped: set SMS_SCALE_TESTS=1")
        return 77
    build = sys.argv[1]
    pg = "--pg" in sys.argv[2:]
    files = int(os.environ.get("SMS_CHANGES_FILES", "1000000"))
    assert files % (2 * CHUNK) == 0, "SMS_CHANGES_FILES: a multiple of 20000"
    binary = os.path.join(build, "bin", "sms-server")
    work = scratch_dir("sms-changes-rss-")
    with scratch_database(binary, work, "changes-password", pg) as db:
        srv = ServerProcess(binary, ["--db", db], f"{work}/server.log")
        srv.start()
        try:
            run(srv, files)
        finally:
            srv.stop()
    return summary_status()


def run(srv, files):
    c = Client(srv)
    token = c.login("d", "op", "changes-password")
    st, src = c.json("POST", "/v3/sources", {"name": "s", "os_type": "LINUX"},
                     token)
    assert st in (200, 201), (st, src)
    st, task = c.json("POST", "/v3/tasks", {
        "name": "big", "os_type": "LINUX",
        "source_server": {"id": src["id"]}, "target_server": {"name": "t"}},
        token)
    assert st in (200, 201), (st, task)
    base = f"/v3/tasks/{task['id']}/consistency-result"
    conn = Conn(srv.url, token)
    half = files // 2
    t0 = time.monotonic()
    older = upload_run(conn, base, 0, files, 1736854315000)
    newer = upload_run(conn, base, half, files, 1736854316000)
    print(f"2 runs x {files} differing files uploaded in "
          f"{time.monotonic() - t0:.0f} s; server RSS "
          f"{vm_kib(srv.proc.pid, 'VmRSS') // 1024} MiB")

    reset_peak(srv.proc.pid)
    t1 = time.monotonic()
    seen = bytearray(files + half)  # per file number: times seen
    counts = {"new": 0, "persisting": 0, "resolved": 0}
    wrong, pages, last, marker = [], 0, "", None
    while True:
        q = {"limit": str(PAGE)}
        if marker:
            q["marker"] = marker
        page = json.loads(conn.call(
            "GET", base + "/changes?" + urllib.parse.urlencode(q)))
        pages += 1
        if pages == 1:
            check("the default pair is the two runs",
                  page["from_run_id"] == older and
                  page["to_run_id"] == newer, str(page)[:300])
        for f in page["files"]:
            n = int(f["path"].split("/f")[1])
            seen[n] += 1
            counts[f["change"]] = counts.get(f["change"], 0) + 1
            want = ("resolved" if n < half else
                    "persisting" if n < files else "new")
            if f["change"] != want or f["path"] <= last:
                wrong.append((f["path"], f["change"], want))
            last = f["path"]
        marker = page.get("next_marker")
        if not marker:
            break
    secs = time.monotonic() - t1
    peak = vm_kib(srv.proc.pid, "VmHWM") / 1024
    total = files + half
    check(f"every one of the {total} changed files is seen exactly once",
          seen.count(1) == total,
          f"unseen {seen.count(0)}, repeated {total - seen.count(0) - seen.count(1)}")
    check(f"{half} new, {half} persisting, {half} resolved",
          counts == {"new": half, "persisting": half, "resolved": half},
          str(counts))
    check("each file has its change and pages follow path order", not wrong,
          str(wrong[:5]))
    check(f"peak RSS {peak:.0f} MiB < {LIMIT_MIB} MiB", peak < LIMIT_MIB,
          f"{peak:.0f} MiB")
    print(f"{pages} pages of {PAGE} in {secs:.0f} s "
          f"({total / secs:.0f} files/s); server peak RSS while paging "
          f"{peak:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
