#!/usr/bin/env python3
"""Bounded exports (issue 11, item 2), against the real sms-server.

A task with many runs (SMS_EXPORT_RUNS, default 7,000, of 10 directories
each) is exported with ?all_runs=true and the same task id 50 times in
task_info, as CSV, JSON and XLSX. Before the fix the server built the whole
answer in memory, once per repeated id (the issue measured 3.0 GB RSS); now
the repeats are dropped and rows are streamed from a cursor over the store.
Checks, per format: the row count is that of one copy of the task, and the
server's peak RSS during the export (VmHWM, reset through
/proc/PID/clear_refs before each) stays under 256 MiB.

Slow (uploads thousands of runs): runs only with SMS_SCALE_TESTS=1, else
exits 77 (skipped). Usage: export_rss_test.py BUILD_DIR
"""
import concurrent.futures
import io
import json
import os
import subprocess
import sys
import urllib.request
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from harness import (check, Client, scratch_dir, ServerProcess,  # noqa: E402
                     summary_status)
from proc_memory import reset_peak, vm_kib  # noqa: E402

LIMIT_MIB = 256
DIRS = 10


def export(srv, token, task_id, accept, copies):
    body = json.dumps({"task_info": [{"task_id": task_id}] * copies}).encode()
    req = urllib.request.Request(
        srv.url + "/v3/tasks/consistency-results/export?all_runs=true",
        data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("X-Auth-Token", token)
    req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.status, dict(r.headers), r.read()


def main():
    if not os.environ.get("SMS_SCALE_TESTS"):
        print("skipped: set SMS_SCALE_TESTS=1")
        return 77
    build = sys.argv[1]
    binary = os.path.join(build, "bin", "sms-server")
    runs = int(os.environ.get("SMS_EXPORT_RUNS", "7000"))
    work = scratch_dir("sms-export-rss-")
    db = f"sqlite:{work}/sms.db"
    subprocess.run([binary, "admin", "--db", db, "create-domain", "d"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "admin", "--db", db, "create-user", "--domain",
                    "d", "--name", "op", "--role", "admin"], check=True,
                   input=b"export-password\n", stdout=subprocess.DEVNULL)
    srv = ServerProcess(binary, ["--db", db], f"{work}/server.log")
    srv.start()
    try:
        c = Client(srv)
        token = c.login("d", "op", "export-password")
        st, src = c.json("POST", "/v3/sources",
                         {"name": "s", "os_type": "LINUX"}, token)
        assert st in (200, 201), (st, src)
        st, task = c.json("POST", "/v3/tasks", {
            "name": "big", "os_type": "LINUX",
            "source_server": {"id": src["id"]},
            "target_server": {"name": "t"}}, token)
        assert st in (200, 201), (st, task)
        task_id = task["id"]

        def upload(i):
            dirs = [{"dir_check": f"/data/run{i}/d{j}",
                     "num_total_files": 1000 + j, "num_different_files": j,
                     "num_target_miss_files": 0, "num_target_more_files": 0}
                    for j in range(DIRS)]
            st, _, raw = c.request(
                "POST", f"/v3/tasks/{task_id}/consistency-result",
                {"finished_time": 1736854315000 + i,
                 "consistency_result": dirs}, token)
            assert st == 200, (st, raw[:200])

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(upload, range(runs)))
        want = runs * DIRS
        print(f"{runs} runs x {DIRS} directories uploaded; "
              f"server RSS {vm_kib(srv.proc.pid, 'VmRSS') // 1024} MiB")

        for name, accept in [
                ("csv", "text/csv"), ("json", "application/json"),
                ("xlsx", "application/vnd.openxmlformats-officedocument."
                         "spreadsheetml.sheet")]:
            reset_peak(srv.proc.pid)
            status, headers, raw = export(srv, token, task_id, accept, 50)
            peak = vm_kib(srv.proc.pid, "VmHWM") / 1024
            check(f"{name}: 200", status == 200, str(status))
            if name == "csv":
                rows = raw.count(b"\r\n") - 1  # no cell holds a newline
            elif name == "json":
                doc = json.loads(raw)
                rows = len(doc["rows"])
                check("json: count", doc["count"] == want, str(doc["count"]))
            else:
                with zipfile.ZipFile(io.BytesIO(raw)) as z:
                    sheet = z.read("xl/worksheets/sheet1.xml")
                rows = sheet.count(b"<row ") - 1
            check(f"{name}: {want} rows (the task once, not 50 times)",
                  rows == want, str(rows))
            check(f"{name}: peak RSS {peak:.0f} MiB < {LIMIT_MIB} MiB",
                  peak < LIMIT_MIB, f"{peak:.0f} MiB")
            print(f"{name}: {len(raw) / 2**20:.1f} MiB body, {rows} rows, "
                  f"transfer-encoding {headers.get('Transfer-Encoding', '-')}"
                  f", server peak RSS {peak:.0f} MiB")
    finally:
        srv.stop()
    return summary_status()


if __name__ == "__main__":
    sys.exit(main())
