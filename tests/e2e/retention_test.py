#!/usr/bin/env python3
"""A tenant's retention of file-level details (issue 13.5), over HTTP against
the real sms-server on PostgreSQL.

usage: retention_test.py BUILD_DIR
Needs SMS_TEST_PG_DSN / SMS_TEST_PG_URL / SMS_TEST_PG_STATE, as set by
`tests/support/pg.sh exec STATE_DIR ...` (ctest does this); exits 77
without them. Creates its own database in that cluster and runs one
sms-server on it with its retention worker passing every second
(SMS_TEST_WEBHOOK_FAST=1; a minute in production). Tenants "acme" and
"other", five runs with file details in each of three tasks:
  plain   acme's, no CONSISTENCY_RETENTION of its own
  own     acme's, CONSISTENCY_RETENTION=runs=4 of its own
  foreign other's, no setting of its own
own loses its oldest run's details at once, the others keep all. Then
acme's admin sets the tenant's default to runs=2 (PUT
/v3/consistency-settings; an operator is refused, a bad value is refused
naming the part). Checked through the API only: plain's three oldest runs
lose their details (the changes endpoint names CONSISTENCY_RETENTION for
them) while its two newest keep every file; own keeps four (its own setting
first); foreign keeps all five (another tenant's default is not its own);
the per-directory counters of every run remain. The default cleared (""),
a sixth run of plain keeps its details past several worker passes.
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass.
"""
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "support"))
from e2e_setup import (AGENT_PASSWORD, OP_PASSWORD, PG_SKIP,  # noqa: E402
                       SERVER_BIN, Client, PgDatabase, ServerProcess, check,
                       finish, make_task, pg_available, register_source,
                       scratch_dir, seed_acme, wait_for)

TMP = scratch_dir("sms-retention-pg.")
DB = PgDatabase("sms_retention")
ENV = dict(os.environ, SMS_PBKDF2_ITERATIONS="1000", SMS_DB_POOL_SIZE="4",
           SMS_TEST_WEBHOOK_FAST="1")  # a retention pass every second
ADMIN_PASSWORD = "adm-password-1"
RUNS = 5
FILES = 30       # differing files per run, in one directory
DEADLINE = 60    # s for the worker to purge (it passes every second)


def admin(*args, stdin=None):
    subprocess.run([SERVER_BIN, "admin", "--db", DB.url, *args], input=stdin,
                   capture_output=True, text=True, check=True, env=ENV)


def upload_run(server, token, task, finished):
    """A run of FILES differing files (details in two chunks, then the
    commit), finished at `finished` (epoch ms); -> its run id."""
    run_id = str(uuid.uuid4())
    files = [{"dir_check": "/data", "path": f"f{i:03d}", "status": "different",
              "reason": "content", "source": {"type": "file", "size": i},
              "target": {"type": "file", "size": i + 1}}
             for i in range(FILES)]
    client = Client(server)
    half = FILES // 2
    for seq, chunk in enumerate((files[:half], files[half:])):
        status, body = client.json(
            "POST", f"/v3/tasks/{task}/consistency-result/details",
            {"run_id": run_id, "seq": seq, "files": chunk}, token)
        assert status == 200, f"details of {run_id}: {status} {body}"
    status, body = client.json("POST", f"/v3/tasks/{task}/consistency-result", {
        "run_id": run_id, "check_result": "success",
        "started_time": finished - 1000, "finished_time": finished,
        "mode": "hash", "consistency_result": [
            {"dir_check": "/data", "num_total_files": 100,
             "num_different_files": FILES, "num_target_miss_files": 0,
             "num_target_more_files": 0}]}, token)
    assert status == 200, f"commit of {run_id}: {status} {body}"
    return run_id


def detail_count(server, token, task, run_id):
    """The run's file details as the API pages them (limit 1000 > FILES)."""
    status, body = Client(server).json(
        "GET", f"/v3/tasks/{task}/consistency-result/details"
        f"?run_id={run_id}&limit=1000", token=token)
    assert status == 200, f"details of {run_id}: {status} {body}"
    return len(body["files"])


def counts(server, token, task, runs):
    return [detail_count(server, token, task, r) for r in runs]


def kept_newest(n):
    """The detail counts when the newest n of RUNS runs keep theirs."""
    return [0] * (RUNS - n) + [FILES] * n


def changes_status(server, token, task, older, newer):
    return Client(server).json(
        "GET", f"/v3/tasks/{task}/consistency-result/changes"
        f"?from={older}&to={newer}", token=token)


def scenario(server):
    seed_acme(SERVER_BIN, DB.url, ENV, extra_users=[
        ("adm", "admin", ADMIN_PASSWORD)])
    admin("create-domain", "other")
    admin("create-user", "--domain", "other", "--name", "op",
          "--role", "operator", stdin=OP_PASSWORD + "\n")
    admin("create-user", "--domain", "other", "--name", "agent",
          "--role", "agent", stdin=AGENT_PASSWORD + "\n")
    server.start()
    client = Client(server)
    op = client.login("acme", "op", OP_PASSWORD)
    adm = client.login("acme", "adm", ADMIN_PASSWORD)
    agent = client.login("acme", "agent", AGENT_PASSWORD)
    other_op = client.login("other", "op", OP_PASSWORD)
    other_agent = client.login("other", "agent", AGENT_PASSWORD)

    source = register_source(server, agent)
    plain = make_task(server, op, source, "plain")
    own = make_task(server, op, source, "own")
    status, body = client.json(
        "POST", f"/v3/tasks/{own}/configuration-setting",
        {"configurations": [{"config_key": "CONSISTENCY_RETENTION",
                             "config_value": "runs=4"}]}, op)
    check("own: CONSISTENCY_RETENTION=runs=4 set on the task", status == 200,
          f"{status} {body}")
    foreign = make_task(server, other_op,
                        register_source(server, other_agent), "foreign")

    now = int(time.time() * 1000) - RUNS * 60000
    runs = {plain: [], own: [], foreign: []}
    for i in range(RUNS):
        for task, token in ((plain, agent), (own, agent),
                            (foreign, other_agent)):
            runs[task].append(upload_run(server, token, task, now + i * 60000))
    every = [FILES] * RUNS
    # No default anywhere yet: only own's setting purges (its oldest run).
    check("before: own's runs=4 purges its oldest run's details",
          wait_for(lambda: counts(server, op, own, runs[own])
                   == kept_newest(4), DEADLINE, 0.5),
          counts(server, op, own, runs[own]))
    time.sleep(3)  # several passes of the worker
    check("before: the tasks without a setting keep every run's details",
          counts(server, op, plain, runs[plain]) == every
          and counts(server, other_op, foreign, runs[foreign]) == every,
          (counts(server, op, plain, runs[plain]),
           counts(server, other_op, foreign, runs[foreign])))

    # The tenant's default: its admin only, checked.
    status, body = client.json("GET", "/v3/consistency-settings", token=op)
    check("settings: none at first", status == 200
          and body == {"retention": ""}, f"{status} {body}")
    status, body = client.json("PUT", "/v3/consistency-settings",
                               {"retention": "runs=2"}, op)
    check("settings: an operator may not set the tenant's default",
          status == 403 and "SMS.9004" in str(body), f"{status} {body}")
    status, body = client.json("PUT", "/v3/consistency-settings",
                               {"retention": "runs=2,days=x"}, adm)
    check("settings: a bad value is refused naming the part",
          status == 400 and "days=x" in body.get("error_msg", ""),
          f"{status} {body}")
    status, body = client.json("PUT", "/v3/consistency-settings",
                               {"retention": "runs=2"}, adm)
    check("settings: the admin sets runs=2", status == 200
          and body == {"retention": "runs=2"}, f"{status} {body}")
    status, body = client.json("GET", "/v3/consistency-settings", token=op)
    check("settings: read back by an operator", status == 200
          and body == {"retention": "runs=2"}, f"{status} {body}")

    purged = wait_for(
        lambda: counts(server, op, plain, runs[plain]) == kept_newest(2),
        DEADLINE, 0.5)
    got = counts(server, op, plain, runs[plain])
    check("plain: the tenant's runs=2 purged the three oldest runs' details, "
          "the two newest keep every file", purged, got)
    check("own: its own runs=4 still applies, not the tenant's runs=2",
          counts(server, op, own, runs[own]) == kept_newest(4),
          counts(server, op, own, runs[own]))
    check("foreign: another tenant's runs keep their details",
          counts(server, other_op, foreign, runs[foreign]) == every,
          counts(server, other_op, foreign, runs[foreign]))
    status, body = changes_status(server, op, plain, runs[plain][0],
                                  runs[plain][1])
    check("plain: the changes of a purged run name CONSISTENCY_RETENTION",
          status in (400, 409)
          and "CONSISTENCY_RETENTION" in body.get("error_msg", ""),
          f"{status} {body}")
    status, body = changes_status(server, op, plain, runs[plain][3],
                                  runs[plain][4])
    check("plain: the changes between the two kept runs are there",
          status == 200 and len(body.get("files", [])) == FILES,
          f"{status} {str(body)[:300]}")
    status, body = client.json(
        "GET", f"/v3/tasks/{plain}/consistency-result?limit=100", token=op)
    kept_counters = status == 200 and sorted(
        r["run_id"] for r in body.get("result_list", [])) == sorted(
        runs[plain]) and all(
        r["consistency_result"][0]["num_different_files"] == FILES
        for r in body["result_list"])
    check("plain: every run keeps its per-directory counters", kept_counters,
          f"{status} {str(body)[:300]}")

    # Cleared: the server's default (keep everything) applies again.
    status, body = client.json("PUT", "/v3/consistency-settings",
                               {"retention": ""}, adm)
    check("settings: cleared", status == 200 and body == {"retention": ""},
          f"{status} {body}")
    sixth = upload_run(server, agent, plain, now + RUNS * 60000)
    time.sleep(3)  # several passes of the worker
    check("plain: cleared, a new run and the kept ones keep their details",
          counts(server, op, plain, runs[plain][3:] + [sixth])
          == [FILES] * 3, counts(server, op, plain, runs[plain] + [sixth]))


def main():
    if not pg_available():
        print(PG_SKIP)
        return 77
    DB.create()
    server = ServerProcess(SERVER_BIN, ["--db", DB.url],
                           f"{TMP}/server-a.log", ENV)
    try:
        scenario(server)
    except Exception as e:  # a broken step fails the test, with its reason
        check("scenario ran to the end", False, repr(e))
    finally:
        server.stop()
        DB.drop()
    return finish(TMP, ("a",), 30)


if __name__ == "__main__":
    sys.exit(main())
