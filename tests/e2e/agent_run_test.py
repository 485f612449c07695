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
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass.
"""
import base64
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("SMS_SHARED_DIR", os.path.join(REPO, "..", "shared"))
GEN = os.path.join(SHARED, "bench", "gen_tree.py")
SSHD = os.path.join(REPO, "tests", "support", "sshd.sh")
SERVER_BIN = os.path.join(BUILD, "bin", "sms-server")
AGENT_BIN = os.path.join(BUILD, "bin", "sms-agent")

TMP = tempfile.mkdtemp(prefix="sms-agent-e2e.")
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import harness  # noqa: E402
from harness import (Client, ServerProcess, check, failed,  # noqa: E402
                     free_port, print_summary, wait_for)


class Server(ServerProcess):
    def __init__(self):
        self.db = f"sqlite:{TMP}/sms.db"
        super().__init__(SERVER_BIN, ["--db", self.db], f"{TMP}/server.log")

    def admin(self, *args, stdin=None):
        return subprocess.run([SERVER_BIN, "admin", "--db", self.db, *args],
                              input=stdin, capture_output=True, text=True,
                              check=True).stdout.strip()


SERVER = Server()
CLIENT = Client(SERVER)


def api(method, path, body=None, token=None, accept=None):
    return CLIENT.request(method, path, body, token,
                          {"Accept": accept} if accept else None)


def api_json(method, path, body=None, token=None):
    return CLIENT.json(method, path, body, token)


def login(domain, user, password):
    return CLIENT.login(domain, user, password)


class Agent:
    def __init__(self, name, ak, sk, source_root, ssh_state=None):
        self.name = name
        self.ak, self.sk = ak, sk
        self.state = f"{TMP}/agent-{name}"
        self.source_root = source_root
        self.ssh_state = ssh_state
        self.proc = None

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        conf = f"{self.state}/agent.conf"
        with open(conf, "w") as f:
            # Secrets through the file, as the README recommends.
            f.write(f"server = {SERVER.url}\nak = {self.ak}\nsk = {self.sk}\n"
                    f"state-dir = {self.state}\nname = {self.name}\n"
                    f"poll-interval = 0.3\nsource-root = {self.source_root}\n"
                    f"remote-agent = {AGENT_BIN}\n")
            if self.ssh_state:
                f.write(f"ssh-config = {self.ssh_state}/ssh_config\n")
        log = open(f"{self.state}.log", "ab")
        self.proc = subprocess.Popen([AGENT_BIN, "run", "--config", conf],
                                     stdout=log, stderr=log)

    def log(self):
        with open(f"{self.state}.log", errors="replace") as f:
            return f.read()

    def kill9(self):
        harness.kill9(self.proc)

    def stop(self):
        harness.stop(self.proc, timeout=30)


def source_id(token, name):
    def find():
        _, body = api_json("GET", "/v3/sources?name=" + name, token=token)
        for s in (body or {}).get("source_servers", []):
            if s["name"] == name:
                return s["id"]
        return None
    return wait_for(find, 20, 0.1)


def new_task(token, src_id, name, verify_uri, config):
    status, body = api_json("POST", "/v3/tasks", {
        "name": name, "type": "MIGRATE_FILE", "os_type": "LINUX",
        "source_server": {"id": src_id},
        "target_server": {"name": "target", "ip": "127.0.0.1",
                          "verify_uri": verify_uri}}, token)
    assert status == 200, (status, body)
    tid = body["id"]
    confs = [{"config_key": k, "config_value": v} for k, v in config.items()]
    status, body = api_json("POST", f"/v3/tasks/{tid}/configuration-setting",
                            {"configurations": confs}, token)
    assert status == 200, (status, body)
    return tid


def start_check(token, tid):
    status, body = api_json("POST", f"/v3/tasks/{tid}/action",
                            {"operation": "consistency_check"}, token)
    assert status == 200, (status, body)
    return body.get("run_id") if isinstance(body, dict) else None


def runs(token, tid):
    status, body = api_json("GET", f"/v3/tasks/{tid}/consistency-result",
                            token=token)
    return body.get("result_list", []) if status == 200 else []


def wait_runs(token, tid, n=1, timeout=120):
    return wait_for(lambda: (lambda r: r if len(r) >= n else None)(
        runs(token, tid)), timeout, 0.2) or runs(token, tid)


def all_details(token, tid, run_id):
    files, marker, pages = [], None, 0
    while True:
        path = f"/v3/tasks/{tid}/consistency-result/details?run_id={run_id}&limit=50"
        if marker:
            path += "&marker=" + urllib.request.quote(marker)
        status, body = api_json("GET", path, token=token)
        assert status == 200, (status, body)
        files += body["files"]
        pages += 1
        marker = body.get("next_marker")
        if not marker:
            return files, pages


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
        print(f"FAIL the shared kit is missing: {GEN}")
        return 1
    SERVER.admin("create-domain", "acme")
    SERVER.admin("create-domain", "other")
    SERVER.admin("create-user", "--domain", "acme", "--name", "ops",
                 "--role", "operator", stdin="operator-pass-1\n")
    SERVER.admin("create-user", "--domain", "acme", "--name", "bot",
                 "--role", "agent", stdin="agent-pass-123\n")
    SERVER.admin("create-user", "--domain", "other", "--name", "bot2",
                 "--role", "agent", stdin="agent-pass-456\n")
    ak, sk = SERVER.admin("create-credential", "--domain", "acme",
                          "--user", "bot").split()
    SERVER.start()
    ops = login("acme", "ops", "operator-pass-1")

    ssh_state = f"{TMP}/sshd"
    env = dict(os.environ, SSHD_OWNER_PID=str(os.getpid()))
    subprocess.run(["bash", SSHD, "start", ssh_state], check=True, env=env,
                   capture_output=True)

    data, truth = generate("tree", "--files", "3000", "--awkward",
                           "--symlinks", "4", "--empty-dirs", "3")
    agent = Agent("src1", ak, sk, f"{data}/src", ssh_state)
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
    bot = login("acme", "bot", "agent-pass-123")
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

    agent.stop()
    check("agent stops on SIGTERM", agent.proc.returncode == 0,
          agent.proc.returncode)
    return 0


if __name__ == "__main__":
    code = 1
    try:
        code = main()
    except Exception as e:  # a broken step fails the test, with its reason
        check("scenario ran to the end", False, repr(e))
    finally:
        SERVER.stop()
        subprocess.run(["bash", SSHD, "stop", f"{TMP}/sshd"],
                       capture_output=True)
        for p in subprocess.run(["pgrep", "-f", f"sms-agent run --config {TMP}"],
                                capture_output=True, text=True).stdout.split():
            os.kill(int(p), signal.SIGKILL)
    print_summary()
    if failed() == 0 and os.environ.get("SMS_KEEP_TMP") != "1":
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print(f"kept {TMP}")
    sys.exit(0 if failed() == 0 and code == 0 else 1)
