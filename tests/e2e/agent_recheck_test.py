#!/usr/bin/env python3
"""End-to-end test of the hash cache and of `scope: "inconsistent"` (issue 12)
through the whole loop: a real sms-server on SQLite, a real `sms-agent run`.

usage: agent_recheck_test.py BUILD_DIR
Scenarios:
  cache      a full check keeps its caches under STATE_DIR/cache/<task>/, a
             second one reuses them (num_cached_files in the stored run) and
             gives the same verdicts; CONSISTENCY_CACHE=off keeps none
  recheck    POST action {"scope": "inconsistent"}: the server hands the agent
             the newest successful run as base_run_id, the agent pages its
             details, checks only those paths (one fixed meanwhile) and the
             stored run has scope "inconsistent", counters and details covering
             them; a second re-check starts from the first; the API refuses an
             unknown scope and a re-check of a task without a successful run
  by hand    `verify --server --list L.jsonl` names the uploaded run on each
             line; `verify --only-paths L.jsonl` uploads a re-check with that
             run as base_run_id; a text list takes --base-run-id
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass,
77 when the shared kit is missing.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_loop import GEN, Agent, loop_from_argv, run_main  # noqa: E402
from harness import check  # noqa: E402

SERVER = loop_from_argv("sms-recheck-e2e.")
TMP = SERVER.tmp
# Counters that say what a run cost, not what it found.
COST = ("num_cached_files", "num_bytes_read", "num_target_cached_files",
        "num_target_bytes_read", "num_bytes_verified")


def counters(run):
    total = {}
    for d in run.get("consistency_result") or []:
        for k, v in d.items():
            if k.startswith("num_"):
                total[k] = total.get(k, 0) + v
    return total


def verdicts(run):
    return {k: v for k, v in counters(run).items() if k not in COST}


def keys(files):
    return {(f["dir_check"], f.get("path") or f.get("path_b64"), f["status"])
            for f in files}


def main():
    if not os.path.exists(GEN):
        print("SKIP %s not found (set SMS_SHARED_DIR)" % GEN)
        return 77
    data = os.path.join(TMP, "data")
    subprocess.run([sys.executable, GEN, "--out", data, "--files", "600"],
                   check=True, capture_output=True)
    src, dst = os.path.join(data, "src"), os.path.join(data, "dst")
    time.sleep(1)  # digests taken within the racy window of a write are not trusted
    ops, ak, sk = SERVER.seed_acme()
    agent = Agent(SERVER, "src1", ak, sk, src)
    agent.start()
    source = SERVER.source_id(ops, "src1")
    if not check("the agent registers its source", source is not None,
                 agent.log()[-500:]):
        return 1

    # ---- cache ----
    task = SERVER.new_task(ops, source, "cache", "file://" + dst,
                           {"CONSISTENCY_DIR": "/"})
    status, body = SERVER.api_json(
        "POST", f"/v3/tasks/{task}/action",
        {"operation": "consistency_check", "scope": "inconsistent"}, ops)
    check("recheck: refused (400 SMS.1004) before the task has a successful run",
          status == 400 and body.get("error_code") == "SMS.1004" and
          "successful run" in body.get("error_msg", ""),
          (status, body))
    SERVER.start_check(ops, task)
    first = SERVER.wait_runs(ops, task, 1)[0]
    check("cache: first run stored", first.get("check_result") == "success",
          first.get("error_msg"))
    cache_dir = os.path.join(agent.state, "cache", task)
    files = sorted(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else []
    check("cache: a source and a target cache under STATE_DIR/cache/<task>/",
          len(files) == 2 and files[0].startswith("source-") and
          files[1].startswith("target-"), files)
    SERVER.start_check(ops, task)
    second = SERVER.wait_runs(ops, task, 2)[0]
    check("cache: the second run has the same verdicts",
          verdicts(first) == verdicts(second),
          (verdicts(first), verdicts(second)))
    c2 = counters(second)
    check("cache: the second run reused the source's digests (%s of 600)" %
          c2.get("num_cached_files"), c2.get("num_cached_files", 0) >= 0.97 * 600)
    check("cache: the second run reused the target's digests (%s)" %
          c2.get("num_target_cached_files"),
          c2.get("num_target_cached_files", 0) >= 0.97 * 590)
    check("cache: the second run read less than the first (%s < %s bytes)" % (
        c2.get("num_bytes_read"), counters(first).get("num_bytes_read")),
        c2.get("num_bytes_read", 0) < counters(first).get("num_bytes_read", 0))
    check("cache: a full check has no scope", "scope" not in second, second)
    off = SERVER.new_task(ops, source, "no-cache", "file://" + dst,
                          {"CONSISTENCY_DIR": "/", "CONSISTENCY_CACHE": "off"})
    SERVER.start_check(ops, off)
    run = SERVER.wait_runs(ops, off, 1)[0]
    check("cache: CONSISTENCY_CACHE=off keeps no cache for the task",
          run.get("check_result") == "success" and
          not os.path.exists(os.path.join(agent.state, "cache", off)),
          run.get("error_msg"))

    # ---- recheck ----
    base, _ = SERVER.all_details(ops, task, second["run_id"], limit=1000)
    check("recheck: the base run has %d differences" % len(base), len(base) > 20)
    fixed = next(f for f in base if f["status"] == "different")
    shutil.copy2(os.path.join(src, fixed["path"]),
                 os.path.join(dst, fixed["path"]))
    SERVER.start_check(ops, task, scope="inconsistent")
    re = SERVER.wait_runs(ops, task, 3)[0]
    check("recheck: run stored", re.get("check_result") == "success",
          re.get("error_msg"))
    check("recheck: stored with \"scope\": \"inconsistent\"",
          re.get("scope") == "inconsistent", re.get("scope"))
    check("recheck: stored with the base run it re-checked (issue 12.5)",
          re.get("base_run_id") == second["run_id"], re.get("base_run_id"))
    got, _ = SERVER.all_details(ops, task, re["run_id"], limit=1000)
    want = keys(base) - {(fixed["dir_check"], fixed["path"], fixed["status"])}
    check("recheck: its details are the base run's minus the fixed file",
          keys(got) == want, "only stored: %s; only expected: %s" % (
              sorted(keys(got) - want)[:5], sorted(want - keys(got))[:5]))
    on_source = len({f["path"] for f in base
                     if f.get("source") and f["source"]["type"] != "dir"})
    check("recheck: num_total_files counts the re-checked files (%s of %d)" % (
        counters(re).get("num_total_files"), on_source),
        counters(re).get("num_total_files") == on_source)
    # The next re-check starts from the newest successful run: the first one.
    fixed2 = next(f for f in got if f["status"] == "different")
    shutil.copy2(os.path.join(src, fixed2["path"]),
                 os.path.join(dst, fixed2["path"]))
    SERVER.start_check(ops, task, scope="inconsistent")
    re2 = SERVER.wait_runs(ops, task, 4)[0]
    check("recheck: the second re-check's base is the first re-check",
          re2.get("base_run_id") == re["run_id"], re2.get("base_run_id"))
    got2, _ = SERVER.all_details(ops, task, re2["run_id"], limit=1000)
    check("recheck: a second re-check covers the first's differences minus "
          "the one fixed since", keys(got2) == keys(got) - {
              (fixed2["dir_check"], fixed2["path"], fixed2["status"])},
          len(got2))

    # ---- by hand: verify --only-paths uploads the run it re-checks ----
    env = dict(os.environ, SMS_AGENT_AK=ak, SMS_AGENT_SK=sk)

    def verify(*args):
        return subprocess.run(
            [SERVER.agent_bin, "verify", src, dst, "--server", SERVER.url,
             "--task", task, "--config", "/dev/null",
             "--state-dir", os.path.join(TMP, "hand-state"), *args],
            env=env, capture_output=True, text=True)

    listed = os.path.join(TMP, "hand.jsonl")
    cli = verify("--list", listed, "--list-format", "jsonl")
    hand = SERVER.runs(ops, task)[0]
    with open(listed) as f:
        ids = {json.loads(line).get("run_id") for line in f}
    check("by hand: verify --server --list names the uploaded run on each line",
          cli.returncode == 1 and ids == {hand["run_id"]},
          (cli.returncode, cli.stderr[-300:], ids, hand["run_id"]))
    cli = verify("--only-paths", listed)
    re3 = SERVER.runs(ops, task)[0]
    check("by hand: verify --only-paths LIST.jsonl uploads a re-check whose "
          "base is the list's run (issue 12.5)",
          cli.returncode == 1 and re3.get("scope") == "inconsistent" and
          re3.get("base_run_id") == hand["run_id"],
          (cli.returncode, cli.stderr[-300:], re3.get("scope"),
           re3.get("base_run_id")))
    text = os.path.join(TMP, "hand.txt")
    with open(text, "w") as f:
        f.write("* " + fixed2["path"] + "\n")
    cli = verify("--only-paths", text, "--base-run-id", re3["run_id"])
    re4 = SERVER.runs(ops, task)[0]
    check("by hand: a text list with --base-run-id uploads that base",
          cli.returncode == 0 and re4.get("scope") == "inconsistent" and
          re4.get("base_run_id") == re3["run_id"] and
          counters(re4).get("num_total_files") == 1,
          (cli.returncode, cli.stderr[-300:], re4))
    cli = verify("--base-run-id", re3["run_id"])
    check("by hand: --base-run-id without --only-paths is refused",
          cli.returncode == 2 and "--only-paths" in cli.stderr,
          (cli.returncode, cli.stderr[-300:]))
    status, body = SERVER.api_json(
        "POST", f"/v3/tasks/{task}/action",
        {"operation": "consistency_check", "scope": "everything"}, ops)
    check("recheck: an unknown scope is refused naming the field",
          status == 400 and "scope" in body.get("error_msg", ""), (status, body))
    agent.stop_checked()
    return 0


if __name__ == "__main__":
    run_main(main)
