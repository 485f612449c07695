#!/usr/bin/env python3
"""End-to-end test of the whole loop (issue 4): real sms-server on SQLite,
real `sms-agent run` daemons, a real sshd on loopback for the ssh:// target.

usage: agent_run_test.py BUILD_DIR
Scenarios:
  truth      the agent verifies a generated tree through ssh://; the GET result,
             every page of the details and the CSV export equal the truth
  server     the server is killed (-9) as the run is uploaded and restarted:
             the run appears exactly once, complete
  agent      the agent is killed (-9) as it uploads and restarted: same
  stop       STOP during a long (I/O-limited) check: a failed run saying it was
             cancelled, within a few seconds
  unreach    an unreachable ssh target: a failed run naming the ssh error
  tenant     an agent of another domain cannot upload to this task (404) nor
             read its results (403 SMS.9004)
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass,
77 when the shared kit is missing.
"""
import base64
import csv
import io
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_loop import (AGENT_USER, GEN, REPO, Agent,  # noqa: E402
                        loop_from_argv, run_main)
from harness import check, free_port, on_exit, wait_for  # noqa: E402

SERVER = loop_from_argv("sms-agent-e2e.")
TMP = SERVER.tmp
SSHD = os.path.join(REPO, "tests", "support", "sshd.sh")
AGENT_BIN = SERVER.agent_bin
api, api_json, login = SERVER.api, SERVER.api_json, SERVER.login
source_id, new_task, start_check = (SERVER.source_id, SERVER.new_task,
                                    SERVER.start_check)
runs, wait_runs, all_details = (SERVER.runs, SERVER.wait_runs,
                                SERVER.all_details)


def detail_path(f):
    if "path_b64" in f:
        return base64.b64decode(f["path_b64"])
    return f["path"].encode()


def truth_list(data, name):
    with open(os.path.join(data, "truth", name + ".nul"), "rb") as fh:
        return set(p for p in fh.read().split(b"\0") if p)


def generate(name, *args):
    out = f"{TMP}/{name}"
    subprocess.run([sys.executable, GEN, "--out", out, *args], check=True,
                   capture_output=True)
    with open(f"{out}/truth.json") as f:
        return out, json.load(f)


def expected_counts(truth):
    e, s = truth["expected"], truth["symlinks"]
    return {"num_total_files": e["total"] + s["src_symlinks"],
            "num_different_files": e["different"] + s["target_differs"],
            "num_target_miss_files": e["missing_on_target"] + s["missing_on_target"],
            "num_target_more_files": e["extra_on_target"] + s["extra_on_target"]}


def counts_of(run):
    d = run["consistency_result"][0]
    return {k: d[k] for k in ("num_total_files", "num_different_files",
                              "num_target_miss_files", "num_target_more_files")}


def main():
    if not os.path.exists(GEN):
        print(f"SKIP the shared kit is missing: {GEN} (set SMS_SHARED_DIR)")
        return 77
    SERVER.admin("create-domain", "other")
    SERVER.admin("create-user", "--domain", "other", "--name", "bot2",
                 "--role", "agent", stdin="agent-pass-456\n")
    ops, ak, sk = SERVER.seed_acme()

    ssh_state = f"{TMP}/sshd"
    env = dict(os.environ, SSHD_OWNER_PID=str(os.getpid()))
    on_exit(subprocess.run, ["bash", SSHD, "stop", ssh_state],
            capture_output=True)
    subprocess.run(["bash", SSHD, "start", ssh_state], check=True, env=env,
                   capture_output=True)

    data, truth = generate("tree", "--files", "3000", "--awkward",
                           "--symlinks", "4", "--empty-dirs", "3")
    agent = Agent(SERVER, "src1", ak, sk, f"{data}/src", ssh_state)
    agent.start()
    src = source_id(ops, "src1")
    check("agent registers its source", src is not None, agent.log()[-500:])

    # --- truth: through ssh://, result + details + CSV export ------------
    tid = new_task(ops, src, "truth", f"ssh://sms-test{data}/dst",
                   {"CONSISTENCY_DIR": "/"})
    run_id = start_check(ops, tid)
    rl = wait_runs(ops, tid)
    ok = check("truth: one run", len(rl) == 1, rl)
    if ok:
        run = rl[0]
        check("truth: check_result success", run["check_result"] == "success",
              run.get("error_msg"))
        check("truth: run_id is the command's", run.get("run_id") == run_id)
        want = expected_counts(truth)
        check("truth: counters equal the truth", counts_of(run) == want,
              f"{counts_of(run)} != {want}")
        files, pages = all_details(ops, tid, run["run_id"])
        check("truth: details span several pages", pages > 1, pages)
        by = {}
        for f in files:
            side = f.get("source") or f.get("target")
            if side["type"] != "file":
                continue
            by.setdefault(f["status"], set()).add(detail_path(f))
        for status, name in (("different", "different"),
                             ("target_miss", "missing_on_target"),
                             ("target_more", "extra_on_target")):
            got, exp = by.get(status, set()), truth_list(data, name)
            check(f"truth: details '{status}' equal truth/{name}.nul",
                  got == exp, f"missing {sorted(exp - got)[:3]} extra "
                  f"{sorted(got - exp)[:3]}")
        status, _, raw = api("POST", "/v3/tasks/consistency-results/export",
                             {"task_info": [{"task_id": tid}]}, ops,
                             accept="text/csv")
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
        check("truth: CSV export has one row for /",
              status == 200 and len(rows) == 1 and rows[0]["dir_check"] == "/",
              raw[:300])
        if rows:
            got = {k: int(rows[0][k]) for k in want}
            check("truth: CSV counters equal the truth", got == want,
                  f"{got} != {want}")

    # --- server killed while the agent uploads ---------------------------
    tid2 = new_task(ops, src, "server-kill", f"file://{data}/dst",
                    {"CONSISTENCY_DIR": "/"})
    spool = f"{agent.state}/spool"
    start_check(ops, tid2)
    # Kill the server the moment the run is spooled, i.e. as it uploads.
    wait_for(lambda: any(os.path.exists(f"{spool}/{d}/READY")
                         for d in os.listdir(spool) if d != "rejected"), 60,
             0.002)
    SERVER.kill9()
    time.sleep(2)
    SERVER.start()
    rl = wait_runs(ops, tid2, 1, 120)
    time.sleep(2)  # a doubled upload would show up now
    rl = runs(ops, tid2)
    check("server killed: the run appears exactly once", len(rl) == 1, rl)
    if rl:
        files, _ = all_details(ops, tid2, rl[0]["run_id"])
        check("server killed: the run is complete",
              counts_of(rl[0]) == expected_counts(truth) and
              len([f for f in files if f["status"] == "different"]) ==
              rl[0]["consistency_result"][0]["num_different_files"],
              counts_of(rl[0]))

    # --- agent killed while it uploads, then restarted -------------------
    tid3 = new_task(ops, src, "agent-kill", f"file://{data}/dst",
                    {"CONSISTENCY_DIR": "/"})
    start_check(ops, tid3)
    wait_for(lambda: any(os.path.exists(f"{spool}/{d}/READY")
                         for d in os.listdir(spool) if d != "rejected"), 60,
             0.002)
    agent.kill9()
    agent.start()
    rl = wait_runs(ops, tid3, 1, 120)
    time.sleep(2)
    rl = runs(ops, tid3)
    check("agent killed: the run appears exactly once", len(rl) == 1, rl)
    if rl:
        files, _ = all_details(ops, tid3, rl[0]["run_id"])
        n_diff = rl[0]["consistency_result"][0]["num_different_files"]
        check("agent killed: the run is complete",
              counts_of(rl[0]) == expected_counts(truth) and
              len([f for f in files if f["status"] == "different"]) == n_diff,
              counts_of(rl[0]))

    # --- STOP during a long check -----------------------------------------
    tid4 = new_task(ops, src, "stop", f"file://{data}/dst",
                    {"CONSISTENCY_DIR": "/", "CONSISTENCY_IO_LIMIT": "1"})
    start_check(ops, tid4)
    time.sleep(2)
    t0 = time.time()
    status, body = api_json("POST", f"/v3/tasks/{tid4}/action",
                            {"operation": "stop"}, ops)
    check("stop: accepted", status == 200, body)
    rl = wait_runs(ops, tid4, 1, 30)
    took = time.time() - t0
    check("stop: a failed run saying it was cancelled, within 10 s",
          len(rl) == 1 and rl[0]["check_result"] == "failed" and
          "cancel" in rl[0].get("error_msg", "") and took < 10,
          f"{rl} after {took:.1f} s")

    # --- unreachable target -----------------------------------------------
    tid5 = new_task(ops, src, "unreachable",
                    f"ssh://root@127.0.0.1:{free_port()}/srv",
                    {"CONSISTENCY_DIR": "/"})
    start_check(ops, tid5)
    rl = wait_runs(ops, tid5, 1, 60)
    check("unreachable: a failed run naming the ssh error",
          len(rl) == 1 and rl[0]["check_result"] == "failed" and
          "Connection refused" in rl[0].get("error_msg", ""), rl)

    # --- tenancy ------------------------------------------------------------
    other = login("other", "bot2", "agent-pass-456")
    status, body = api_json("POST", f"/v3/tasks/{tid}/consistency-result",
                            {"run_id": "0b6f4a57-3c1e-4a53-9f0f-5b8a4f6a9c11",
                             "consistency_result": []}, other)
    check("tenant: another domain's agent cannot upload (404)",
          status == 404 and body.get("error_code") == "SMS.2252", (status, body))
    bot = login("acme", *AGENT_USER)
    status, body = api_json("GET", f"/v3/tasks/{tid}/consistency-result",
                            token=bot)
    check("tenant: an agent cannot read results (403 SMS.9004)",
          status == 403 and body.get("error_code") == "SMS.9004", (status, body))

    # --- an ad-hoc run of the command line, uploaded to a task -------------
    tid6 = new_task(ops, src, "adhoc", f"file://{data}/dst",
                    {"CONSISTENCY_DIR": "/"})
    env = dict(os.environ, SMS_AGENT_AK=ak, SMS_AGENT_SK=sk)
    cli = subprocess.run([AGENT_BIN, "verify", f"{data}/src", f"{data}/dst",
                          "--server", SERVER.url, "--task", tid6,
                          "--config", "/dev/null",
                          "--state-dir", f"{TMP}/adhoc-state"],
                         env=env, capture_output=True, text=True)
    rl = runs(ops, tid6)
    check("adhoc: verify --server --task uploads its run",
          cli.returncode == 1 and len(rl) == 1 and
          counts_of(rl[0]) == expected_counts(truth),
          (cli.returncode, cli.stderr[-300:], rl))
    cli = subprocess.run([AGENT_BIN, "verify", f"{data}/src", f"{data}/dst",
                          "--server", SERVER.url, "--task",
                          "0b6f4a57-3c1e-4a53-9f0f-5b8a4f6a9c11",
                          "--config", "/dev/null",
                          "--state-dir", f"{TMP}/adhoc-state"],
                         env=env, capture_output=True, text=True)
    check("adhoc: an unknown task is an error naming it",
          cli.returncode == 2 and "SMS.2252" in cli.stderr, cli.stderr[-300:])

    agent.stop_checked()
    return 0


if __name__ == "__main__":
    run_main(main)
