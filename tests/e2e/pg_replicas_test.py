#!/usr/bin/env python3
"""Several sms-server replicas over one PostgreSQL (issue 5).

usage: pg_replicas_test.py BUILD_DIR
Needs SMS_TEST_PG_DSN / SMS_TEST_PG_URL / SMS_TEST_PG_STATE, as set by
`tests/support/pg.sh exec STATE_DIR ...` (ctest does this). Creates its own
database in that cluster, starts two sms-server processes on different
loopback ports over it, and checks:
  cross      a task created through A, a run uploaded through B, read back
             through both (the same answer); details staged through both,
             committed through A, paged through B
  token      a token issued by A is accepted by B; revoked through B, it is
             refused by both at once
  race       concurrent uploads of the same runs through both replicas: every
             run once, none doubled, a conflicting retry is a 409
  uploads    many uploads at once through both replicas (group commit, issue
             14.3), for one task and spread over eight, each retried through
             the other replica: every acknowledged run stored once, run ids
             unique, committed counted once per run across the replicas, and
             each task's readiness folded every run (K = its run count
             consistent runs in a row needed, so one run lost from the
             readiness history leaves it not ready)
  cache      each replica's read cache (LISTEN/NOTIFY, issue 14.2): what A
             writes is served by B within the stated bound (500 ms after
             A's answer, usually at once) though B held the old record: a
             new run, a token revoked, a role changed by hand in psql; B's
             listener connection terminated (pg_terminate_backend): emptied,
             nothing stale served, listening again by itself
  poll       the agents' poll path (issue 14.1) across replicas: a signed
             poll accepted by A is refused by B as a replay, and of one
             signed request sent to both at once exactly one is accepted;
             a check queued through A is handed over exactly once while
             the agent polls both replicas concurrently, though both held
             the source idle ("no command" from memory); B hands over a
             check queued through A within the cache bound; the heartbeat of a
             poll through B is shown by B at once and by A within 3 s
             (B writes it within a second)
  restart    PostgreSQL crashed (immediate shutdown) and started again under
             load: requests meanwhile fail with 503 SMS.2008 and Retry-After,
             every acknowledged run is stored, both replicas serve again by
             themselves
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass.
"""
import concurrent.futures
import datetime
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import uuid

SUPPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                       "support")
PG_SH = os.path.join(SUPPORT, "pg.sh")

sys.path.insert(0, SUPPORT)
from e2e_setup import (AGENT_PASSWORD, OP_PASSWORD, PG_SKIP,  # noqa: E402
                       PG_STATE, SERVER_BIN, Client, PgDatabase,
                       ServerProcess, check, finish, make_task, pg_available,
                       register_source, scratch_dir, seed_acme, wait_for)

TMP = scratch_dir("sms-pg-replicas.")
DB = PgDatabase("sms_replicas")
DB_URL = DB.url
# SMS_HEARTBEAT_WRITE_MS: the poll scenario checks that A shows B's poll
# within 3 s (by default a source's poll is written at most every 30 s).
ENV = dict(os.environ, SMS_PBKDF2_ITERATIONS="1000", SMS_DB_POOL_SIZE="8",
           SMS_HEARTBEAT_WRITE_MS="1000")


class Server(ServerProcess):
    def __init__(self, name, config_file=False):
        self.name = name
        args, env = ["--db", DB_URL], ENV
        if config_file:  # the database and the pool from a config file
            conf = f"{TMP}/server-{name}.json"
            with open(conf, "w") as f:
                json.dump({"db": DB_URL, "db_pool_size": 6}, f)
            args = ["--config", conf]
            env = {k: v for k, v in ENV.items()
                   if k not in ("SMS_DB", "SMS_DB_POOL_SIZE")}
        super().__init__(SERVER_BIN, args, f"{TMP}/server-{name}.log", env)

    def get_status(self, path):
        return self.status(path)


def api(server, method, path, body=None, token=None, headers=None):
    return Client(server).request(method, path, body, token, headers)


def api_json(server, method, path, body=None, token=None):
    return Client(server).json(method, path, body, token)


def login(server, user, password):
    return Client(server).login("acme", user, password)


def run_body(run_id, total=10, different=0):
    now = int(time.time() * 1000)
    return {"run_id": run_id, "check_result": "success",
            "started_time": now - 1000, "finished_time": now, "mode": "hash",
            "consistency_result": [
                {"dir_check": "/data", "num_total_files": total,
                 "num_different_files": different,
                 "num_target_miss_files": 0, "num_target_more_files": 0}]}


def main():
    if not pg_available():
        print(PG_SKIP)
        return 0
    DB.create()
    a, b = Server("a"), Server("b", config_file=True)
    try:
        seed_acme(SERVER_BIN, DB_URL, ENV, extra_users=[
            ("mon", "viewer", "mon-password-1"),
            ("op2", "operator", "op2-password-1")])
        # Both replicas start at once: the migrations must not race.
        threads = [threading.Thread(target=s.start) for s in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check("both replicas ready",
              a.get_status("/readyz") == 200 and b.get_status("/readyz") == 200)

        op = login(a, "op", OP_PASSWORD)
        agent = login(b, "agent", AGENT_PASSWORD)
        source_id = register_source(b, agent)

        scenario_cross(a, b, op, agent, source_id)
        scenario_token(a, b)
        scenario_race(a, b, op, agent, source_id)
        scenario_uploads(a, b, op, agent, source_id)
        scenario_cache(a, b, op, agent, source_id)
        scenario_poll(a, b, op, agent, source_id)
        scenario_restart(a, b, op, agent, source_id)
    finally:
        a.stop()
        b.stop()
        DB.drop()
    return finish(TMP, ("a", "b"), 20)


def scenario_cross(a, b, op, agent, source_id):
    task = make_task(a, op, source_id, "cross")
    status, _ = api_json(b, "GET", f"/v3/tasks/{task}", token=op)
    check("cross: task created on A is visible on B", status == 200, status)
    run_id = str(uuid.uuid4())
    # Details staged through both replicas, then the run committed through A.
    files = [{"dir_check": "/data", "path": f"f{i:04d}", "status": "different",
              "reason": "content", "source": {"type": "file", "size": i},
              "target": {"type": "file", "size": i + 1}} for i in range(250)]
    for seq in range(5):
        server = a if seq % 2 else b
        status, body = api_json(server, "POST",
                                f"/v3/tasks/{task}/consistency-result/details",
                                {"run_id": run_id, "seq": seq,
                                 "files": files[seq * 50:(seq + 1) * 50]},
                                agent)
        if not check(f"cross: details chunk {seq} staged", status == 200,
                     f"{status} {body}"):
            return
    status, body = api_json(a, "POST", f"/v3/tasks/{task}/consistency-result",
                            run_body(run_id, 250, 250), agent)
    check("cross: run uploaded through A", status == 200, f"{status} {body}")
    sa, ra = api_json(a, "GET", f"/v3/tasks/{task}/consistency-result",
                      token=op)
    sb, rb = api_json(b, "GET", f"/v3/tasks/{task}/consistency-result",
                      token=op)
    check("cross: both replicas return the same result",
          sa == sb == 200 and ra == rb and len(ra["result_list"]) == 1
          and ra["result_list"][0]["run_id"] == run_id, f"{ra} {rb}")
    # Page the details through B, alternating replicas page by page.
    paths, marker, servers = [], None, [b, a]
    for page in range(20):
        q = f"?run_id={run_id}&limit=40" + (f"&marker={marker}" if marker else "")
        status, body = api_json(servers[page % 2], "GET",
                                f"/v3/tasks/{task}/consistency-result/details{q}",
                                token=op)
        if status != 200:
            break
        paths += [f["path"] for f in body["files"]]
        marker = body.get("next_marker")
        if not marker:
            break
    check("cross: details paged across replicas, each file once, in order",
          paths == [f["path"] for f in files], f"{len(paths)} paths")


def scenario_token(a, b):
    token = login(a, "op", OP_PASSWORD)
    status, _ = api_json(b, "GET", "/v3/tasks", token=token)
    check("token: issued by A, accepted by B", status == 200, status)
    status, _, _ = api(b, "DELETE", "/v3/auth/tokens",
                       headers={"X-Subject-Token": token})
    check("token: revoked through B", status == 204, status)
    sa, ba = api_json(a, "GET", "/v3/tasks", token=token)
    sb, bb = api_json(b, "GET", "/v3/tasks", token=token)
    check("token: revocation seen by both at once",
          sa == sb == 403 and ba["error_code"] == bb["error_code"] == "SMS.9002",
          f"{sa} {ba} {sb} {bb}")


def scenario_race(a, b, op, agent, source_id):
    task = make_task(a, op, source_id, "race")
    run_ids = [str(uuid.uuid4()) for _ in range(40)]
    jobs = []
    for i, run_id in enumerate(run_ids):
        body = run_body(run_id, 100 + i)
        # Each run uploaded twice through each replica (an agent retrying
        # after a timeout, behind a load balancer).
        jobs += [(a, body), (b, body), (b, body), (a, body)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(
            lambda j: api_json(j[0], "POST",
                               f"/v3/tasks/{task}/consistency-result",
                               j[1], agent)[0], jobs))
    check("race: every concurrent upload acknowledged",
          all(s == 200 for s in results),
          {s: results.count(s) for s in set(results)})
    _, body = api_json(b, "GET", f"/v3/tasks/{task}/consistency-result",
                       token=op)
    got = [r["run_id"] for r in body["result_list"]]
    check("race: every run stored once, none doubled",
          sorted(got) == sorted(run_ids), f"{len(got)} runs, "
          f"{len(set(got))} distinct")
    # The same run id with other content, through both at once: conflicts.
    changed = run_body(run_ids[0], 999)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(
            lambda s: api_json(s, "POST",
                               f"/v3/tasks/{task}/consistency-result",
                               changed, agent)[0], [a, b]))
    check("race: other content under a committed run_id is 409 on both",
          statuses == [409, 409], statuses)


def scenario_uploads(a, b, op, agent, source_id):
    one = make_task(a, op, source_id, "uploads-one")
    many = [make_task(b, op, source_id, f"uploads-{i}") for i in range(8)]
    runs = {one: [str(uuid.uuid4()) for _ in range(48)]}
    for task in many:
        runs[task] = [str(uuid.uuid4()) for _ in range(12)]
    for task, ids in runs.items():
        status, _ = api_json(a, "POST",
                             f"/v3/tasks/{task}/configuration-setting",
                             {"configurations": [
                                 {"config_key": "CONSISTENCY_DIR",
                                  "config_value": "/data"},
                                 {"config_key": "CONSISTENCY_READY_RUNS",
                                  "config_value": str(len(ids))}]}, op)
        assert status == 200, f"setting: {status}"
    committed_before = sum(metric(s, op, "sms_runs_committed_total") or 0
                           for s in (a, b))
    jobs = []
    for task, ids in runs.items():
        for i, run_id in enumerate(ids):
            first, other = (a, b) if i % 2 else (b, a)
            body = run_body(run_id, 100 + i)
            jobs.append((first, task, body))
            if i % 3 == 0:  # a retry through the other replica, meanwhile
                jobs.append((other, task, body))
    # Interleaved, so the single task's uploads overlap the others'.
    jobs.sort(key=lambda j: j[2]["run_id"])
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(
            lambda j: api(j[0], "POST",
                          f"/v3/tasks/{j[1]}/consistency-result", j[2],
                          agent)[0], jobs))
    check("uploads: every concurrent upload and retry acknowledged",
          all(s == 200 for s in results),
          {s: results.count(s) for s in set(results)})
    stored_all = []
    for task, ids in runs.items():
        _, body = api_json(a if task == one else b, "GET",
                           f"/v3/tasks/{task}/consistency-result?limit=100",
                           token=op)
        got = [r["run_id"] for r in body["result_list"]]
        stored_all += got
        if sorted(got) != sorted(ids):
            check(f"uploads: task {task} has each of its runs once", False,
                  f"{len(got)} runs, {len(set(got))} distinct, "
                  f"{len(ids)} uploaded")
            return
    check("uploads: every acknowledged run stored once, in its own task",
          True)
    check("uploads: run ids unique across the tasks",
          len(stored_all) == len(set(stored_all)))
    committed = sum(metric(s, op, "sms_runs_committed_total") or 0
                    for s in (a, b)) - committed_before
    check("uploads: committed once per run across both replicas (retries "
          "answered as repeats)", committed == len(stored_all),
          f"{committed} committed, {len(stored_all)} runs")
    not_ready = {}
    for task in runs:
        _, t = api_json(b if task == one else a, "GET", f"/v3/tasks/{task}",
                        token=op)
        verdict = t["cutover_readiness"]
        if verdict["status"] != "ready":
            not_ready[task] = verdict["reasons"]
    check("uploads: every task's readiness folded each of its runs "
          "(ready at K = its run count)", not not_ready, not_ready)


# A hit is served only while the replica's listener heard, less than this
# long ago, a fence it sent (SharedCacheOptions::max_lag_ms): the bound on
# how long after a write commits a replica may still answer from before it.
MAX_LAG_S = 0.5


def metric(server, token, name):
    """The value of the metric line `name` (with its labels) on server."""
    status, _, raw = api(server, "GET", "/metrics", token=token)
    assert status == 200, f"metrics: {status}"
    for line in raw.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def ms(seconds):
    return "never" if seconds is None else f"{seconds * 1000:.1f}"


def until_seen(read, seen, limit=5.0):
    """Calls read() from now until seen(result); -> (seconds from the call
    to the start of the first read that saw it, reads made). None when not
    seen within `limit` seconds."""
    start = time.monotonic()
    reads = 0
    while time.monotonic() - start < limit:
        began = time.monotonic() - start
        reads += 1
        if seen(read()):
            return began, reads
    return None, reads


def scenario_cache(a, b, op, agent, source_id):
    mon = login(a, "mon", "mon-password-1")
    listening = wait_for(
        lambda: metric(a, mon, "sms_read_cache_listening") == 1
        and metric(b, mon, "sms_read_cache_listening") == 1, 10)
    check("cache: both replicas' listeners are listening", bool(listening))
    task = make_task(a, op, source_id, "cached")
    path = f"/v3/tasks/{task}/consistency-result"

    def runs_on(server, token=op):
        status, body = api_json(server, "GET", path, token=token)
        return [r["run_id"] for r in body["result_list"]] \
            if status == 200 else status

    def hits(server):
        # Tasks and runs only: every /metrics read hits the token table.
        return sum(metric(server, mon, "sms_read_cache_requests_total"
                          f'{{table="{t}",result="hit"}}') or 0
                   for t in ("tasks", "runs"))

    def cached_on_b(token=op):
        """B reads the task's runs three times: true when it answered the
        last two from memory (the runs; a task with runs is not looked up)."""
        before = hits(b)
        for _ in range(3):
            runs_on(b, token)
        return hits(b) - before >= 2

    # A new run through A, while B holds the task's runs.
    first = str(uuid.uuid4())
    status, _ = api_json(a, "POST", path, run_body(first), agent)
    assert status == 200, status
    check("cache: B answers the task's runs from memory", cached_on_b())
    second = str(uuid.uuid4())
    status, _ = api_json(a, "POST", path, run_body(second), agent)
    delay, reads = until_seen(lambda: runs_on(b),
                              lambda got: isinstance(got, list)
                              and second in got)
    print(f"cache: run uploaded through A seen by B {ms(delay)}"
          f" ms after A's answer ({reads} reads)")
    check("cache: a run uploaded through A is served by B within the bound",
          status == 200 and delay is not None and delay <= MAX_LAG_S,
          f"{status} {delay}")

    # A token revoked through A, held by B.
    token = login(b, "op2", "op2-password-1")
    check("cache: B holds op2's token", cached_on_b(token))
    status, _, _ = api(a, "DELETE", "/v3/auth/tokens",
                       headers={"X-Subject-Token": token})
    delay, reads = until_seen(lambda: runs_on(b, token),
                              lambda got: got == 403)
    print(f"cache: token revoked through A refused by B "
          f"{ms(delay)} ms after A's answer ({reads} reads)")
    check("cache: a token revoked through A is refused by B within the bound",
          status == 204 and delay is not None and delay <= MAX_LAG_S,
          f"{status} {delay}")
    check("cache: ... and by A at once", runs_on(a, token) == 403)

    # A role changed by hand (there is no API for it): op2 becomes a viewer.
    token = login(b, "op2", "op2-password-1")
    check("cache: B holds op2's new token", cached_on_b(token))
    DB.psql("UPDATE users SET role = 'viewer' WHERE name = 'op2'")
    made = []

    def create_task():
        status, body = api_json(b, "POST", "/v3/tasks", {
            "name": "by-op2", "type": "MIGRATE_FILE", "os_type": "LINUX",
            "source_server": {"id": source_id},
            "target_server": {"name": "t"}}, token)
        if status == 200:
            made.append(body["id"])
        return status
    delay, reads = until_seen(create_task, lambda s: s == 403)
    print(f"cache: role changed in psql effective on B "
          f"{ms(delay)} ms after the commit ({reads} tries,"
          f" {len(made)} allowed before)")
    check("cache: a role changed in the database is effective on B within "
          "the bound", delay is not None and delay <= MAX_LAG_S, delay)

    # B's listener connection terminated while B holds the runs: emptied,
    # and what A writes meanwhile is served by B at once or within the bound.
    check("cache: B holds the runs again", cached_on_b())
    losses = metric(b, mon, "sms_read_cache_listener_losses_total")
    killed = DB.psql("SELECT count(pg_terminate_backend(pid)) FROM "
                     "pg_stat_activity WHERE application_name = "
                     f"'sms-server cache listener {b.proc.pid}'")
    third = str(uuid.uuid4())
    status, _ = api_json(a, "POST", path, run_body(third), agent)
    delay, reads = until_seen(lambda: runs_on(b),
                              lambda got: isinstance(got, list)
                              and third in got)
    print(f"cache: after B's listener was terminated, a run uploaded through"
          f" A seen by B {ms(delay)} ms after A's answer")
    check("cache: B's listener terminated, nothing stale served past the "
          "bound", killed == "1" and status == 200 and delay is not None
          and delay <= MAX_LAG_S, f"{killed} {status} {delay}")
    back = wait_for(
        lambda: metric(b, mon, "sms_read_cache_listening") == 1
        and metric(b, mon, "sms_read_cache_listener_losses_total")
        == losses + 1, 10)
    check("cache: B's listener reported the loss and listens again",
          bool(back))
    check("cache: B answers from memory again", bool(wait_for(cached_on_b, 5)))
    fourth = str(uuid.uuid4())
    status, _ = api_json(a, "POST", path, run_body(fourth), agent)
    delay, _ = until_seen(lambda: runs_on(b),
                          lambda got: isinstance(got, list) and fourth in got)
    check("cache: ... and hears A's writes again",
          status == 200 and delay is not None and delay <= MAX_LAG_S, delay)


def sdk_signed(method, path, ak, sk, host="sms.example:443"):
    """The headers of an SDK-HMAC-SHA256 signed request without a body, as
    sms-agent signs it (content-type, host, x-request-id, x-sdk-date)."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")
    headers = {"Content-Type": "application/json", "Host": host,
               "X-Request-Id": str(uuid.uuid4()), "X-Sdk-Date": date}
    names = sorted(h.lower() for h in headers)
    lower = {k.lower(): v for k, v in headers.items()}
    canonical = (f"{method}\n{path}/\n\n"
                 + "".join(f"{n}:{lower[n]}\n" for n in names)
                 + f"\n{';'.join(names)}\n{hashlib.sha256(b'').hexdigest()}")
    to_sign = (f"SDK-HMAC-SHA256\n{date}\n"
               f"{hashlib.sha256(canonical.encode()).hexdigest()}")
    sig = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders="
                                f"{';'.join(names)}, Signature={sig}")
    return headers


def scenario_poll(a, b, op, agent, source_id):
    out = subprocess.run([SERVER_BIN, "admin", "--db", DB_URL,
                          "create-credential", "--domain", "acme", "--user",
                          "agent"], capture_output=True, text=True, env=ENV)
    if not check("poll: an AK/SK for the agent", out.returncode == 0,
                 out.stderr):
        return
    ak, sk = out.stdout.split()[:2]
    path = f"/v3/sources/{source_id}/command"
    # One signed poll through A, then the very same request through B.
    headers = sdk_signed("GET", path, ak, sk)
    sa, _, ba = api(a, "GET", path, headers=headers)
    sb, _, bb = api(b, "GET", path, headers=headers)
    check("poll: a signed poll accepted by A is a replay on B",
          sa == 200 and sb == 403 and b"SMS.9003" in bb and b"replay" in bb,
          f"{sa} {ba[:200]} {sb} {bb[:200]}")
    # Each of 20 signed polls sent to both replicas at once: one answer each.
    signed = [sdk_signed("GET", path, ak, sk) for _ in range(20)]
    jobs = [(server, h) for h in signed for server in (a, b)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(
            lambda j: api(j[0], "GET", path, headers=j[1])[0], jobs))
    per_request = [statuses[2 * i:2 * i + 2] for i in range(len(signed))]
    check("poll: a signed request sent to both replicas at once is "
          "accepted exactly once",
          all(sorted(p) == [200, 403] for p in per_request), per_request)
    def poll(server):
        st, reply = api_json(server, "GET", path, token=agent)
        return st, reply

    def handed_run(reply):
        st, r = reply
        if st == 200 and isinstance(r, dict) and \
                r.get("command_name") == "CONSISTENCY_CHECK":
            return (r.get("command_param") or {}).get("run_id")
        return None
    # Both replicas answer "no command" from memory from here on (the source
    # is idle: storage/caching_store.h)...
    for server in (a, b, a, b):
        poll(server)
    # A check queued through A, polled for through both replicas at once.
    task = make_task(a, op, source_id, "poll-once")
    status, body = api_json(a, "POST", f"/v3/tasks/{task}/configuration-setting",
                            {"configurations": [{"config_key": "CONSISTENCY_DIR",
                                                 "config_value": "/data"}]}, op)
    check("poll: task configured", status == 200, f"{status} {body}")
    status, body = api_json(a, "POST", f"/v3/tasks/{task}/action",
                            {"operation": "consistency_check"}, op)
    if not check("poll: check queued through A", status == 200,
                 f"{status} {body}"):
        return
    run_id = body.get("run_id")
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(poll, [a, b] * 20))
    handed = [r for r in replies if handed_run(r) == run_id]
    check("poll: the check is handed over exactly once across replicas",
          len(handed) == 1 and all(st == 200 for st, _ in replies),
          f"{len(handed)} of {[st for st, _ in replies]}")
    # ...until a command is queued on the other replica: B, which held the
    # source idle, hands over a check queued through A within the read
    # cache's bound (cache_max_lag_ms, 500 ms; 1.5 s allowed here for a
    # loaded machine), once.
    for server in (b, b):
        poll(server)
    task2 = make_task(a, op, source_id, "poll-seen")
    api_json(a, "POST", f"/v3/tasks/{task2}/configuration-setting",
             {"configurations": [{"config_key": "CONSISTENCY_DIR",
                                  "config_value": "/data"}]}, op)
    status, body = api_json(a, "POST", f"/v3/tasks/{task2}/action",
                            {"operation": "consistency_check"}, op)
    queued_at = time.monotonic()
    run2 = body.get("run_id") if status == 200 else None
    seen = []
    while run2 and time.monotonic() - queued_at < 3:
        r = handed_run(poll(b))
        if r is not None:
            seen.append((r, time.monotonic() - queued_at))
            if r == run2:
                break
        time.sleep(0.02)
    after = [handed_run(poll(server)) for server in (a, b, a, b)]
    check("poll: B hands over a check queued through A within the cache "
          "bound, once",
          run2 is not None and [r for r, _ in seen] == [run2] and
          seen[0][1] < 1.5 and after == [None] * 4,
          f"{status} {body} {seen} {after}")
    # The heartbeat: B answered a poll just now.
    t0 = int(time.time() * 1000)
    time.sleep(0.01)
    status, _ = poll(b)
    sb, src_b = api_json(b, "GET", f"/v3/sources/{source_id}", token=op)
    check("poll: B shows its own poll at once",
          status == 200 and sb == 200 and src_b["last_visit_time"] >= t0,
          f"{sb} {src_b} {t0}")
    seen_on_a = wait_for(
        lambda: api_json(a, "GET", f"/v3/sources/{source_id}",
                         token=op)[1]["last_visit_time"] >= t0, 3)
    check("poll: A shows B's poll within 3 s", seen_on_a)


def scenario_restart(a, b, op, agent, source_id):
    tasks = [make_task(a, op, source_id, f"load{i}") for i in range(4)]
    acked, unavailable, other = [], [], []
    lock = threading.Lock()
    stop = threading.Event()

    def load(task, server):
        while not stop.is_set():
            run_id = str(uuid.uuid4())
            try:
                status, headers, raw = api(
                    server, "POST", f"/v3/tasks/{task}/consistency-result",
                    run_body(run_id), agent)
            except Exception as e:  # a reset connection is not an answer
                status, headers, raw = None, {}, str(e).encode()
            with lock:
                if status == 200:
                    acked.append(run_id)
                elif status == 503:
                    unavailable.append((headers, raw))
                else:
                    other.append((status, raw[:200]))
            if status != 200:
                time.sleep(0.05)

    workers = [threading.Thread(target=load, args=(t, s))
               for t, s in zip(tasks, [a, b, a, b])]
    for w in workers:
        w.start()
    time.sleep(1.0)
    before = len(acked)
    # Immediate shutdown: no checkpoint, open transactions cut off, the WAL
    # replayed at the next start, as after a crash of the database server.
    subprocess.run(["bash", PG_SH, "crash", PG_STATE], check=True)
    time.sleep(1.5)  # the database is down: every request answers 503
    down_ready = (a.get_status("/readyz"), b.get_status("/readyz"))
    subprocess.run(["bash", PG_SH, "start", PG_STATE], check=True,
                   stdout=subprocess.DEVNULL)
    back = time.time()
    recovered = wait_for(
        lambda: a.get_status("/readyz") == 200 and b.get_status("/readyz") == 200,
        15)
    recovery_s = time.time() - back
    time.sleep(1.0)
    stop.set()
    for w in workers:
        w.join()
    after = len(acked)
    print(f"restart: {after} runs acknowledged ({before} before the stop), "
          f"{len(unavailable)} answered 503, readyz while down {down_ready}, "
          f"recovered {recovery_s:.2f}s after start")
    check("restart: load ran before and after", before > 0 and after > before)
    check("restart: /readyz is 503 while the database is down",
          down_ready == (503, 503), down_ready)

    def good_503(headers, raw):
        try:
            body = json.loads(raw)
        except ValueError:
            return False
        retry = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        return body.get("error_code") == "SMS.2008" and retry and int(retry) > 0
    check("restart: requests meanwhile fail with 503 SMS.2008 + Retry-After",
          unavailable and all(good_503(h, r) for h, r in unavailable),
          unavailable[:1])
    check("restart: no other failure (no 500, no 403, no reset)",
          not other, other[:3])
    check("restart: the replicas recovered by themselves", bool(recovered))
    stored = set(DB.psql("SELECT run_id FROM runs").split())
    missing = [r for r in acked if r not in stored]
    check("restart: every acknowledged run is stored", not missing,
          f"{len(missing)} missing")
    status, _ = api_json(b, "GET", f"/v3/tasks/{tasks[0]}/consistency-result",
                         token=op)
    check("restart: reads work again", status == 200, status)


if __name__ == "__main__":
    sys.exit(main())
