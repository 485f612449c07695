#!/usr/bin/env python3
"""End-to-end test of `sms-agent run` with the hash cache and `scope: "inconsistent"` (issue 12).

The server side of the issue (storing the scope, sending it in the command) is not built yet, so
this test plays the server's part with a small HTTP server on loopback that speaks exactly the
contract of docs/hash-cache.md ("What the server must send and accept"): it hands the real agent
commands, serves a base run's details in pages from a real `verify --list-format jsonl` and records
what the agent uploads.

usage: agent_recheck_test.py BUILD_DIR
Scenarios:
  cache      a full check keeps its caches under STATE_DIR/cache/<task>/, a second one reuses them
             and uploads the same counters with num_cached_files set; "cache": "off" keeps none
  recheck    scope "inconsistent": the agent pages the details of the newest successful run,
             checks only those paths (one of them fixed meanwhile) and uploads "scope":
             "inconsistent" with counters and details covering them
Prints PASS/FAIL lines; exit 0 only when all pass, 77 when the shared kit is missing.
"""
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("SMS_SHARED_DIR", os.path.join(REPO, "..", "shared"))
GEN = os.path.join(SHARED, "bench", "gen_tree.py")
AGENT = os.path.join(BUILD, "bin", "sms-agent")
TMP = tempfile.mkdtemp(prefix="sms-recheck-e2e.")
FAILS = 0


def check(ok, what, detail=""):
    global FAILS
    print("%s %s%s" % ("PASS" if ok else "FAIL", what, "" if ok or not detail else ": " + str(detail)),
          flush=True)
    if not ok:
        FAILS += 1
    return ok


class FakeServer:
    """The endpoints the agent calls, with a queue of commands and a record of uploads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.commands = []      # command_param dicts handed out one per poll
        self.results = {}       # task_id -> [result bodies]
        self.details = {}       # run_id -> [files]
        self.base_runs = {}     # task_id -> (run_id, [FileDiff]) served by the details API
        self.detail_gets = []   # query dicts of GET .../details
        self.posted = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                parts = url.path.strip("/").split("/")
                with server.lock:
                    if url.path.endswith("/command"):
                        if server.commands:
                            return self.reply(200, {"command_name": "CONSISTENCY_CHECK",
                                                    "command_param": server.commands.pop(0)})
                        return self.reply(200, {"command_name": "NONE"})
                    if parts[:2] == ["v3", "tasks"] and parts[3:] == ["consistency-result"]:
                        task = parts[2]
                        runs = [{"run_id": "failed-newer", "check_result": "failed"}]
                        if task in server.base_runs:
                            runs.append({"run_id": server.base_runs[task][0], "check_result": "success"})
                        return self.reply(200, {"task_id": task, "result_list": runs})
                    if parts[:2] == ["v3", "tasks"] and parts[3:] == ["consistency-result", "details"]:
                        server.detail_gets.append(q)
                        run_id, files = server.base_runs[parts[2]]
                        if q.get("run_id") != run_id:
                            return self.reply(404, {"error_code": "SMS.2252", "error_msg": "no such run"})
                        start = int(q.get("marker", "0"))
                        limit = int(q.get("limit", "100"))
                        page = files[start:start + limit]
                        body = {"task_id": parts[2], "run_id": run_id, "count": len(files), "files": page}
                        if start + limit < len(files):
                            body["next_marker"] = str(start + limit)
                        return self.reply(200, body)
                self.reply(404, {"error_code": "SMS.2252", "error_msg": "not found"})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n) or b"{}")
                parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
                with server.lock:
                    if parts == ["v3", "sources"]:
                        return self.reply(200, {"id": "7d3f6a0e-0000-4000-8000-000000000001"})
                    if parts[-1] == "details":
                        server.details.setdefault(body["run_id"], []).extend(body["files"])
                        return self.reply(200, "ok")
                    if parts[-1] == "consistency-result":
                        server.results.setdefault(parts[2], []).append(body)
                        server.posted.set()
                        return self.reply(200, "update consistency result succeeded")
                    if parts[-1] == "command_result":
                        return self.reply(200, "ok")
                self.reply(404, {"error_code": "SMS.2252", "error_msg": "not found"})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def run(self, param, timeout=60):
        """Queues one command and waits for the agent's upload of it."""
        with self.lock:
            self.posted.clear()
            self.commands.append(param)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.posted.wait(0.2):
                with self.lock:
                    for r in self.results.get(param["task_id"], []):
                        if r.get("run_id") == param["run_id"]:
                            return r
                self.posted.clear()
        return None


def counters(result):
    total = {}
    for d in result.get("consistency_result") or []:
        for k, v in d.items():
            if k.startswith("num_"):
                total[k] = total.get(k, 0) + v
    return total


def main():
    if not os.path.exists(GEN):
        print("SKIP %s not found (set SMS_SHARED_DIR)" % GEN)
        return 77
    data = os.path.join(TMP, "data")
    subprocess.run([sys.executable, GEN, "--out", data, "--files", "600"], check=True,
                   capture_output=True)
    src, dst = os.path.join(data, "src"), os.path.join(data, "dst")
    time.sleep(1)  # digests taken within the racy window of a write are not trusted
    server = FakeServer()
    state = os.path.join(TMP, "state")
    open(os.path.join(TMP, "agent.conf"), "w").close()
    agent = subprocess.Popen([AGENT, "run", "--server", "http://127.0.0.1:%d" % server.port,
                              "--token", "test-token", "--state-dir", state, "--poll-interval", "0.2",
                              "--source-root", src, "--config", os.path.join(TMP, "agent.conf")],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(TMP, "agent.log"), "w"))
    try:
        task = str(uuid.uuid4())
        base = {"task_id": task, "dirs": ["/"], "mode": "hash", "hash_algorithm": "xxh128",
                "verify_uri": "file://" + dst}

        # ---- cache ----
        first = server.run(dict(base, run_id=str(uuid.uuid4())))
        check(first is not None and first.get("check_result") == "success", "cache: first run uploaded",
              first and first.get("error_msg"))
        cache_dir = os.path.join(state, "cache", task)
        files = sorted(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else []
        check(len(files) == 2 and files[0].startswith("source-") and files[1].startswith("target-"),
              "cache: a source and a target cache under STATE_DIR/cache/<task>/", files)
        second = server.run(dict(base, run_id=str(uuid.uuid4())))
        c1, c2 = counters(first or {}), counters(second or {})
        cost = ("num_cached_files", "num_bytes_read", "num_target_cached_files", "num_target_bytes_read")
        check(second is not None and {k: v for k, v in c1.items() if k not in cost} ==
              {k: v for k, v in c2.items() if k not in cost}, "cache: the second run has the same verdicts")
        check(c2.get("num_cached_files", 0) >= 0.97 * 600 and c2.get("num_target_cached_files", 0) >= 0.97 * 590,
              "cache: the second run reused the digests (%s source, %s target)" % (
                  c2.get("num_cached_files"), c2.get("num_target_cached_files")))
        check("scope" not in (second or {}), "cache: a full check has no scope")
        other = str(uuid.uuid4())
        off = server.run(dict(base, task_id=other, run_id=str(uuid.uuid4()), cache="off"))
        check(off is not None and not os.path.exists(os.path.join(state, "cache", other)),
              "cache: \"cache\": \"off\" keeps no cache for the task")

        # ---- recheck ----
        listing = os.path.join(TMP, "base.jsonl")
        subprocess.run([AGENT, "verify", "--list", listing, "--list-format", "jsonl", src, dst],
                       capture_output=True)
        diffs = [json.loads(line) for line in open(listing)]
        check(len(diffs) > 20, "recheck: the base run has %d differences" % len(diffs))
        # One of them is fixed before the re-check.
        fixed = next(d for d in diffs if d["status"] == "different")
        shutil.copy2(os.path.join(src, fixed["path"]), os.path.join(dst, fixed["path"]))
        server.base_runs[task] = ("b1e5c0de-0000-4000-8000-000000000002", diffs)
        run_id = str(uuid.uuid4())
        re = server.run(dict(base, run_id=run_id, scope="inconsistent"))
        check(re is not None and re.get("check_result") == "success", "recheck: run uploaded",
              re and re.get("error_msg"))
        check((re or {}).get("scope") == "inconsistent", "recheck: uploaded with \"scope\": \"inconsistent\"")
        gets = server.detail_gets
        check(len(gets) >= 1 and all(q.get("run_id") == server.base_runs[task][0] and q.get("limit") == "1000"
                                     for q in gets),
              "recheck: the details of the newest successful run, 1000 a page (%d page(s))" % len(gets))
        got = {(d["dir_check"], d["path"], d["status"]) for d in server.details.get(run_id, [])}
        want = {(d["dir_check"], d["path"], d["status"]) for d in diffs if d["path"] != fixed["path"]}
        check(got == want, "recheck: the uploaded details are the base run's minus the fixed file",
              "only uploaded: %s; only expected: %s" % (sorted(got - want)[:5], sorted(want - got)[:5]))
        c = counters(re or {})
        listed_on_source = len({d["path"] for d in diffs if "source" in d and d["source"]["type"] != "dir"})
        check(c.get("num_total_files") == listed_on_source,
              "recheck: num_total_files counts the re-checked files (%s of %d)" % (
                  c.get("num_total_files"), listed_on_source))
        # A base run given by the server is used as is.
        server.base_runs[task] = ("0ba5e000-0000-4000-8000-000000000003", diffs[:3])
        run_id = str(uuid.uuid4())
        server.detail_gets.clear()
        re2 = server.run(dict(base, run_id=run_id, scope="inconsistent",
                              base_run_id="0ba5e000-0000-4000-8000-000000000003"))
        check(re2 is not None and server.detail_gets[0].get("run_id") == "0ba5e000-0000-4000-8000-000000000003"
              and len(server.details.get(run_id, [])) <= 3,
              "recheck: base_run_id from the command is the one re-checked")
        bad = server.run(dict(base, run_id=str(uuid.uuid4()), scope="everything"))
        check(bad is not None and bad.get("check_result") == "failed" and "scope" in bad.get("error_msg", ""),
              "recheck: an unknown scope fails the run, naming it", bad and bad.get("error_msg"))
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(20)
        except subprocess.TimeoutExpired:
            agent.kill()
        server.httpd.shutdown()
    if FAILS:
        print("FAIL agent_recheck: %d failure(s); kept %s" % (FAILS, TMP))
        return 1
    shutil.rmtree(TMP, ignore_errors=True)
    print("PASS agent_recheck: all checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
