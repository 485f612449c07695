#!/usr/bin/env python3
"""The reliability suite (issue 11): `make reliability`. Not part of
`make test`: it takes minutes. Bounded, loopback only, the real sms-server.

Scenarios (each prints PASS/FAIL lines; a table of figures at the end):
  kill9  kill -9 the server >= KILLS times while agents upload runs
         concurrently: every acknowledged run is present once, with all its
         directories and counters (none torn, none doubled), and nothing
         is present that was never sent.
  soak   mixed load (reads, uploads, details, exports, logins) for
         SOAK_SECONDS: no 5xx, RSS flat (last third within 25% of the
         first third after warm-up).
  disk   the database on a small tmpfs filled up: no 2xx for a run that
         was not stored, every 2xx run stored, /readyz 503 while full,
         uploads succeed again once space returns, and the runs survive a
         restart.
  flood  idle-connection and slow-loris floods of 1,100 connections at the
         default descriptor limit (soft 1024, hard 524288 as systemd gives;
         and soft = hard = 1024): other clients are still served,
         p99 < 50 ms.

Usage: reliability.py BUILD_DIR [--kills N] [--soak-seconds S]
                      [--only kill9,soak,disk,flood]
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from harness import (check, scratch_dir, ServerProcess,  # noqa: E402
                     summary_status, wait_for)

ENV = dict(os.environ, SMS_PBKDF2_ITERATIONS="1000")
FIGURES = []  # (scenario, figure, value)


def figure(scenario, name, value):
    FIGURES.append((scenario, name, value))


# ---------------------------------------------------------------- helpers

class Api:
    """A tiny JSON client with a token; network errors are status None."""

    def __init__(self, url, token=None):
        self.url = url
        self.token = token

    def call(self, method, path, body=None, headers=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("X-Auth-Token", self.token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()
        except (OSError, urllib.error.URLError):
            return None, None, b""

    def json(self, method, path, body=None, headers=None):
        status, h, raw = self.call(method, path, body, headers)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw


class World:
    """A database with a domain, an admin and an agent, and a server."""

    def __init__(self, build, work, name, db_dir=None, nofile=None):
        self.binary = os.path.join(build, "bin", "sms-server")
        self.db = os.path.join(db_dir or work, f"{name}.db")
        for args, stdin in ((["create-domain", "acme"], ""),
                            (["create-user", "--domain", "acme", "--name",
                              "admin", "--role", "admin"], "admin-pass-1\n"),
                            (["create-user", "--domain", "acme", "--name",
                              "agent", "--role", "agent"], "agent-pass-1\n")):
            subprocess.run([self.binary, "admin", "--db", f"sqlite:{self.db}",
                            *args], input=stdin, text=True, check=True,
                           capture_output=True, env=ENV)
        self.server = ServerProcess(
            self.binary, ["--db", f"sqlite:{self.db}", "--console-dir",
                          "none"], os.path.join(work, f"{name}.log"),
            env=ENV, nofile=nofile)
        self.server.start()
        self.admin = Api(self.server.url, self.login("admin", "admin-pass-1"))
        self.agent = Api(self.server.url, self.login("agent", "agent-pass-1"))
        status, src = self.agent.json("POST", "/v3/sources", {
            "name": "web01", "hostname": "web01", "ip": "10.0.0.1",
            "os_type": "LINUX", "os_version": "debian12",
            "agent_version": "reliability"})
        assert status == 200, f"register source: {status} {src}"
        self.source = src["id"]

    def login(self, user, password):
        status, headers, raw = Api(self.server.url).call(
            "POST", "/v3/auth/tokens", {"auth": {"identity": {
                "methods": ["password"], "password": {"user": {
                    "name": user, "password": password,
                    "domain": {"name": "acme"}}}},
                "scope": {"domain": {"name": "acme"}}}})
        assert status == 201, f"login {user}: {status} {raw[:200]}"
        return headers["X-Subject-Token"]

    def task(self, name):
        status, out = self.admin.json("POST", "/v3/tasks", {
            "name": name, "type": "MIGRATE_FILE", "os_type": "LINUX",
            "source_server": {"id": self.source},
            "target_server": {"name": "t", "ip": "10.0.0.2",
                              "verify_uri": "file:///mnt/target"},
            "is_need_consistency_check": True})
        assert status == 200, f"create task: {status} {out}"
        return out["id"]

    def runs(self, task):
        """run_id -> list of directories, as the server lists them."""
        status, out = self.admin.json(
            "GET", f"/v3/tasks/{task}/consistency-result?limit=100")
        assert status == 200, f"results: {status} {out}"
        found = {}
        for run in out["result_list"]:
            found.setdefault(run.get("run_id"), []).append(
                run["consistency_result"])
        return found

    def rss_kib(self):
        with open(f"/proc/{self.server.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def run_body(run_id, dirs=3):
    """A run whose counters are a function of its id (to spot torn ones)."""
    seed = int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16)
    now = int(time.time() * 1000)
    return {"run_id": run_id, "check_result": "success",
            "started_time": now - 1000, "finished_time": now, "mode": "hash",
            "consistency_result": [
                {"dir_check": f"/data/d{i}", "num_total_files": seed % 1000 + i,
                 "num_different_files": seed % 7, "num_target_miss_files": i,
                 "num_target_more_files": seed % 3} for i in range(dirs)]}


def same_dirs(listed, body):
    want = {d["dir_check"]: d for d in body["consistency_result"]}
    got = {d["dir_check"]: d for d in listed}
    if set(want) != set(got):
        return False
    keys = ("num_total_files", "num_different_files", "num_target_miss_files",
            "num_target_more_files")
    return all(got[k][f] == want[k][f] for k in want for f in keys)


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# ---------------------------------------------------------------- kill -9

def scenario_kill9(build, work, kills):
    w = World(build, work, "kill9")
    tasks = [w.task(f"k{i}") for i in range(60)]
    per_task_cap = 95  # the result list shows the newest 100
    lock = threading.Lock()
    acked, maybe, sent = {}, {}, [0]
    stop = threading.Event()

    def uploader():
        while not stop.is_set():
            with lock:
                if sent[0] >= len(tasks) * per_task_cap:
                    return
                task = tasks[sent[0] % len(tasks)]
                sent[0] += 1
            run_id = str(uuid.uuid4())
            body = run_body(run_id)
            with lock:
                maybe[run_id] = (task, body)
            status, _, _ = w.agent.call(
                "POST", f"/v3/tasks/{task}/consistency-result", body,
                timeout=10)
            if status == 200:
                with lock:
                    acked[run_id] = (task, body)
            elif status is None:
                time.sleep(0.05)  # the server is down: try a new run soon

    threads = [threading.Thread(target=uploader) for _ in range(4)]
    for t in threads:
        t.start()
    restarts = []
    rng = random.Random(11)
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 1.0))
        w.server.kill9()
        t0 = time.time()
        w.server.start()
        restarts.append(time.time() - t0)
    stop.set()
    for t in threads:
        t.join()

    present, doubled, torn, phantom = 0, 0, 0, 0
    listed = {}
    for task in tasks:
        for run_id, copies in w.runs(task).items():
            listed[run_id] = copies
            if len(copies) > 1:
                doubled += 1
            if run_id not in maybe:
                phantom += 1
            elif not same_dirs(copies[0], maybe[run_id][1]):
                torn += 1
    missing = [r for r in acked if r not in listed]
    present = len(acked) - len(missing)
    check(f"kill9: {kills} kill -9 done", len(restarts) == kills)
    check("kill9: every acknowledged run present", not missing,
          f"{len(missing)} of {len(acked)} missing, e.g. {missing[:3]}")
    check("kill9: no run doubled", doubled == 0, f"{doubled}")
    check("kill9: no run torn (directories and counters as sent)", torn == 0,
          f"{torn}")
    check("kill9: nothing present that was never sent", phantom == 0,
          f"{phantom}")
    figure("kill9", "kill -9", kills)
    figure("kill9", "runs acknowledged", len(acked))
    figure("kill9", "acknowledged present", f"{present}/{len(acked)}")
    figure("kill9", "unacknowledged but stored",
           len(set(listed) - set(acked)))
    figure("kill9", "torn / doubled", f"{torn} / {doubled}")
    figure("kill9", "restart to healthy, median / max (s)",
           f"{statistics.median(restarts):.2f} / {max(restarts):.2f}")
    w.server.stop()


# ---------------------------------------------------------------- soak

def scenario_soak(build, work, seconds):
    w = World(build, work, "soak")
    tasks = [w.task(f"s{i}") for i in range(20)]
    for task in tasks:  # something to read
        w.agent.call("POST", f"/v3/tasks/{task}/consistency-result",
                     run_body(str(uuid.uuid4()), dirs=30))
    counts, lat = {}, []
    lock = threading.Lock()
    stop = threading.Event()

    def one(rng):
        task = rng.choice(tasks)
        kind = rng.random()
        t0 = time.time()
        if kind < 0.35:
            status, _, _ = w.admin.call(
                "GET", f"/v3/tasks/{task}/consistency-result?limit=20")
        elif kind < 0.55:
            status, _, _ = w.admin.call("GET", "/v3/tasks?limit=50")
        elif kind < 0.75:
            status, _, _ = w.agent.call(
                "POST", f"/v3/tasks/{task}/consistency-result",
                run_body(str(uuid.uuid4()), dirs=rng.randint(1, 30)))
        elif kind < 0.85:
            run_id = str(uuid.uuid4())
            status, _, _ = w.agent.call(
                "POST", f"/v3/tasks/{task}/consistency-result/details",
                {"run_id": run_id, "seq": 0, "files": [
                    {"dir_check": "/data/d0", "path": f"f{i}",
                     "status": "different", "reason": "content",
                     "source": {"type": "file", "size": i},
                     "target": {"type": "file", "size": i + 1}}
                    for i in range(50)]})
            if status == 200:
                status, _, _ = w.agent.call(
                    "POST", f"/v3/tasks/{task}/consistency-result",
                    run_body(run_id, dirs=1))
        elif kind < 0.92:
            status, _, _ = w.admin.call(
                "POST", "/v3/tasks/consistency-results/export",
                {"task_info": [{"task_id": task}]},
                {"Accept": "application/json"})
        elif kind < 0.96:
            status, _, _ = w.admin.call("GET", "/v3/sources")
        else:
            try:
                w.login("admin", "admin-pass-1")
                status = 201
            except AssertionError:
                status = 500
        with lock:
            counts[status] = counts.get(status, 0) + 1
            lat.append(time.time() - t0)

    def worker(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            one(rng)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    samples = []
    t0 = time.time()
    while time.time() - t0 < seconds:
        time.sleep(2)
        samples.append(w.rss_kib())
    stop.set()
    for t in threads:
        t.join()
    third = max(1, len(samples) // 3)
    early = statistics.mean(samples[third:2 * third] or samples[:1])
    late = statistics.mean(samples[-third:])
    errors = sum(n for s, n in counts.items() if s is None or s >= 500)
    total = sum(counts.values())
    check("soak: no 5xx and no failed connection", errors == 0,
          f"{counts}")
    check("soak: RSS flat (last third <= 1.25 x middle third)",
          late <= 1.25 * early, f"{early:.0f} -> {late:.0f} KiB")
    figure("soak", "seconds / requests", f"{seconds} / {total}")
    figure("soak", "requests/s", f"{total / seconds:.0f}")
    figure("soak", "statuses", " ".join(f"{k}:{v}" for k, v in
                                        sorted(counts.items(),
                                               key=lambda x: str(x[0]))))
    figure("soak", "latency p50 / p99 (ms)",
           f"{percentile(lat, 50) * 1000:.1f} / "
           f"{percentile(lat, 99) * 1000:.1f}")
    figure("soak", "RSS middle / last third (MiB)",
           f"{early / 1024:.1f} / {late / 1024:.1f}")
    w.server.stop()


# ---------------------------------------------------------------- disk full

def scenario_disk(build, work):
    mnt = os.path.join(work, "tmpfs")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs",
                        mnt], capture_output=True, text=True)
    if r.returncode != 0:
        check("disk: a 24 MiB tmpfs could be mounted (needs root)", False,
              r.stderr.strip())
        return
    try:
        w = World(build, work, "disk", db_dir=mnt)
        task = w.task("disk")
        tasks = [task] + [w.task(f"disk{i}") for i in range(40)]
        free = shutil.disk_usage(mnt).free
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - 1536 * 1024))
        acked, refused, statuses = {}, {}, {}
        consecutive = 0
        n = 0
        while consecutive < 10 and n < 4000:
            t = tasks[n % len(tasks)]
            n += 1
            run_id = str(uuid.uuid4())
            body = run_body(run_id, dirs=30)
            status, _, _ = w.agent.call(
                "POST", f"/v3/tasks/{t}/consistency-result", body)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                acked[run_id] = (t, body)
                consecutive = 0
            else:
                refused[run_id] = (t, body)
                consecutive += 1
        check("disk: uploads refused once the disk is full", refused,
              f"{statuses}")
        check("disk: refusals are 503 (storage unavailable)",
              set(statuses) <= {200, 503}, f"{statuses}")
        listed = {}
        for t in tasks:
            listed.update(w.runs(t))
        stored_refused = [r for r in refused if r in listed]
        missing = [r for r in acked if r not in listed]
        check("disk: no 2xx for a run that was not stored", not missing,
              f"{len(missing)} acknowledged runs missing")
        check("disk: nothing stored for a refused run", not stored_refused,
              f"{len(stored_refused)}")
        ready_full = Api(w.server.url).call("GET", "/readyz")[0]
        check("disk: /readyz is 503 while the disk is full", ready_full == 503,
              f"{ready_full}")
        os.unlink(filler)
        ready_again = Api(w.server.url).call("GET", "/readyz")[0]
        check("disk: /readyz is 200 once space returns", ready_again == 200,
              f"{ready_again}")
        t0 = time.time()
        recovered = wait_for(lambda: w.agent.call(
            "POST", f"/v3/tasks/{task}/consistency-result",
            run_body(str(uuid.uuid4())))[0] == 200, 20, step=0.2)
        check("disk: uploads succeed again once space returns",
              recovered, "no 200 within 20 s")
        recovery = time.time() - t0
        w.server.stop()
        w.server.start()
        listed = {}
        for t in tasks:
            listed.update(w.runs(t))
        check("disk: acknowledged runs survive a restart",
              all(r in listed for r in acked))
        figure("disk", "uploads before full / refused",
               f"{len(acked)} / {len(refused)}")
        figure("disk", "statuses", " ".join(f"{k}:{v}" for k, v in
                                            sorted(statuses.items(),
                                                   key=lambda x: str(x[0]))))
        figure("disk", "first 200 after space returns (s)", f"{recovery:.2f}")
        w.server.stop()
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)


# ---------------------------------------------------------------- floods

def flood_process(port, n, slow, ready, stop):
    """n connections held open; slow: each sends a header byte per second
    (slow loris); connections the server closes are opened again."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "

    def connect():
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        return [s, 0]

    socks = [connect() for _ in range(n)]
    ready.set()
    while not stop.is_set():
        time.sleep(1.0)
        for entry in socks:
            s, sent = entry
            try:
                if slow:
                    s.send(head[sent:sent + 1] if sent < len(head) else b"a")
                    entry[1] += 1
                else:
                    if s.recv(1, socket.MSG_PEEK) == b"":
                        raise ConnectionResetError
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                entry[:] = connect()
    for s, _ in socks:
        s.close()


def probe(url, token, n):
    """n GET /v3/tasks, each on a new connection: latencies and failures."""
    lat, fails = [], 0
    for _ in range(n):
        t0 = time.time()
        status, _, _ = Api(url, token).call("GET", "/v3/tasks?limit=10",
                                            timeout=10)
        if status == 200:
            lat.append(time.time() - t0)
        else:
            fails += 1
        time.sleep(0.01)
    return lat, fails


def scenario_flood(build, work):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    server_hard = min(hard, 524288)
    for limit_name, nofile in (("1024 soft / %d hard" % server_hard,
                                (1024, server_hard)),
                               ("1024 soft = hard", (1024, 1024))):
        w = World(build, work, f"flood{nofile[1]}", nofile=nofile)
        port = w.server.port
        base, _ = probe(w.server.url, w.admin.token, 100)
        for kind, slow in (("idle", False), ("slow-loris", True)):
            ready, stop = multiprocessing.Event(), multiprocessing.Event()
            p = multiprocessing.Process(target=flood_process,
                                        args=(port, 1100, slow, ready, stop))
            p.start()
            ready.wait(30)
            time.sleep(2)
            lat, fails = probe(w.server.url, w.admin.token, 300)
            stop.set()
            p.join(30)
            p99 = percentile(lat, 99) * 1000
            label = f"flood {kind}, {limit_name}"
            check(f"{label}: other clients served (300/300)", fails == 0,
                  f"{fails} failed")
            check(f"{label}: p99 < 50 ms", p99 < 50, f"{p99:.1f} ms")
            figure("flood", f"{kind}, {limit_name}: p50 / p99 / max (ms)",
                   f"{percentile(lat, 50) * 1000:.1f} / {p99:.1f} / "
                   f"{max(lat or [0]) * 1000:.1f}; failed {fails}")
        figure("flood", f"no flood, {limit_name}: p50 / p99 (ms)",
               f"{percentile(base, 50) * 1000:.1f} / "
               f"{percentile(base, 99) * 1000:.1f}")
        status, _, raw = Api(w.server.url).call("GET", "/metrics")
        for line in raw.decode(errors="replace").splitlines():
            if line.startswith("sms_http_connections_refused_total"):
                figure("flood", f"{limit_name}: " + line.split("{")[1]
                       .split("}")[0], line.split()[-1])
        w.server.stop()


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--soak-seconds", type=int, default=90)
    ap.add_argument("--only", default="kill9,soak,disk,flood")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = scratch_dir("sms-reliability-")
    only = args.only.split(",")
    started = time.time()
    if "kill9" in only:
        scenario_kill9(args.build, work, args.kills)
    if "soak" in only:
        scenario_soak(args.build, work, args.soak_seconds)
    if "disk" in only:
        scenario_disk(args.build, work)
    if "flood" in only:
        scenario_flood(args.build, work)
    print()
    print(f"{'scenario':<8} {'figure':<58} value")
    for scenario, name, value in FIGURES:
        print(f"{scenario:<8} {name:<58} {value}")
    print(f"total {time.time() - started:.0f} s; "
          f"logs in {work} (removed at exit unless SMS_KEEP_TMP=1)")
    return summary_status()


if __name__ == "__main__":
    sys.exit(main())
