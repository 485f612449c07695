"""What the end-to-end tests of `sms-agent run` share: a real sms-server on
SQLite with its admin command, the v3 calls a test makes on a task, and
`sms-agent run` daemons.

Used by tests/e2e/agent_run_test.py and tests/e2e/agent_recheck_test.py:
    sys.path.insert(0, HERE)
    from agent_loop import Agent, Loop, run_main
    ...
    if __name__ == "__main__":
        run_main(main)
"""
import os
import subprocess
import sys
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import harness  # noqa: E402
from harness import Client, ServerProcess, wait_for  # noqa: E402

# The tree generator of the shared kit (the tests skip, 77, without it).
GEN = os.path.join(os.environ.get("SMS_SHARED_DIR",
                                  os.path.join(REPO, "..", "shared")),
                   "bench", "gen_tree.py")


# The users Loop.seed_acme creates in the domain "acme".
OPERATOR = ("ops", "operator-pass-1")
AGENT_USER = ("bot", "agent-pass-123")


def run_main(main):
    """Runs a test's main() (-> 0, or 77 to skip) and exits: a step that
    raises fails the test with its reason; the summary is printed; 0 only
    when every check passed. The server, the agents, sshd and the scratch
    directory are undone at exit (harness)."""
    code = 1
    try:
        code = main()
    except Exception as e:  # a broken step fails the test, with its reason
        harness.check("scenario ran to the end", False, repr(e))
    harness.print_summary()
    if code == 77:
        sys.exit(77)
    sys.exit(0 if harness.failed() == 0 and code == 0 else 1)


def loop_from_argv(prefix):
    """The Loop of a test run as `TEST.py BUILD_DIR`, in a new scratch
    directory named PREFIX... (removed at exit)."""
    return Loop(os.path.abspath(sys.argv[1]), harness.scratch_dir(prefix))


class Loop(ServerProcess):
    """sms-server on sqlite:TMP/sms.db, and the API calls of the tests."""

    def __init__(self, build, tmp):
        self.build = build
        self.tmp = tmp
        self.db = f"sqlite:{tmp}/sms.db"
        self.server_bin = os.path.join(build, "bin", "sms-server")
        self.agent_bin = os.path.join(build, "bin", "sms-agent")
        super().__init__(self.server_bin, ["--db", self.db],
                         f"{tmp}/server.log")
        self.client = Client(self)

    def admin(self, *args, stdin=None):
        return subprocess.run([self.server_bin, "admin", "--db", self.db,
                               *args], input=stdin, capture_output=True,
                              text=True, check=True).stdout.strip()

    def seed_acme(self):
        """The domain "acme" with OPERATOR and AGENT_USER (and an AK/SK of
        the agent's), then the server started. -> (the operator's token,
        ak, sk)."""
        self.admin("create-domain", "acme")
        for (name, password), role in ((OPERATOR, "operator"),
                                       (AGENT_USER, "agent")):
            self.admin("create-user", "--domain", "acme", "--name", name,
                       "--role", role, stdin=password + "\n")
        ak, sk = self.admin("create-credential", "--domain", "acme",
                            "--user", AGENT_USER[0]).split()
        self.start()
        return self.login("acme", *OPERATOR), ak, sk

    def api(self, method, path, body=None, token=None, accept=None):
        return self.client.request(method, path, body, token,
                                   {"Accept": accept} if accept else None)

    def api_json(self, method, path, body=None, token=None):
        return self.client.json(method, path, body, token)

    def login(self, domain, user, password):
        return self.client.login(domain, user, password)

    def source_id(self, token, name):
        def find():
            _, body = self.api_json("GET", "/v3/sources?name=" + name,
                                    token=token)
            for s in (body or {}).get("source_servers", []):
                if s["name"] == name:
                    return s["id"]
            return None
        return wait_for(find, 20, 0.1)

    def new_task(self, token, src_id, name, verify_uri, config):
        status, body = self.api_json("POST", "/v3/tasks", {
            "name": name, "type": "MIGRATE_FILE", "os_type": "LINUX",
            "source_server": {"id": src_id},
            "target_server": {"name": "target", "ip": "127.0.0.1",
                              "verify_uri": verify_uri}}, token)
        assert status == 200, (status, body)
        tid = body["id"]
        self.configure(token, tid, config)
        return tid

    def configure(self, token, tid, config):
        confs = [{"config_key": k, "config_value": v}
                 for k, v in config.items()]
        status, body = self.api_json(
            "POST", f"/v3/tasks/{tid}/configuration-setting",
            {"configurations": confs}, token)
        assert status == 200, (status, body)

    def start_check(self, token, tid, scope=None):
        action = {"operation": "consistency_check"}
        if scope:
            action["scope"] = scope
        status, body = self.api_json("POST", f"/v3/tasks/{tid}/action",
                                     action, token)
        assert status == 200, (status, body)
        return body.get("run_id") if isinstance(body, dict) else None

    def runs(self, token, tid):
        """The task's runs, newest first."""
        status, body = self.api_json(
            "GET", f"/v3/tasks/{tid}/consistency-result", token=token)
        return body.get("result_list", []) if status == 200 else []

    def wait_runs(self, token, tid, n=1, timeout=120):
        return wait_for(lambda: (lambda r: r if len(r) >= n else None)(
            self.runs(token, tid)), timeout, 0.2) or self.runs(token, tid)

    def all_details(self, token, tid, run_id, limit=50):
        """-> (every detail object of the run, number of pages)."""
        files, marker, pages = [], None, 0
        while True:
            path = (f"/v3/tasks/{tid}/consistency-result/details"
                    f"?run_id={run_id}&limit={limit}")
            if marker:
                path += "&marker=" + urllib.request.quote(marker)
            status, body = self.api_json("GET", path, token=token)
            assert status == 200, (status, body)
            files += body["files"]
            pages += 1
            marker = body.get("next_marker")
            if not marker:
                return files, pages


class Agent:
    """`sms-agent run` with AK/SK from its config file, as the README says."""

    def __init__(self, loop, name, ak, sk, source_root, ssh_state=None):
        self.loop = loop
        self.name = name
        self.ak, self.sk = ak, sk
        self.state = f"{loop.tmp}/agent-{name}"
        self.source_root = source_root
        self.ssh_state = ssh_state
        self.proc = None

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        conf = f"{self.state}/agent.conf"
        with open(conf, "w") as f:
            f.write(f"server = {self.loop.url}\nak = {self.ak}\n"
                    f"sk = {self.sk}\nstate-dir = {self.state}\n"
                    f"name = {self.name}\npoll-interval = 0.3\n"
                    f"source-root = {self.source_root}\n"
                    f"remote-agent = {self.loop.agent_bin}\n")
            if self.ssh_state:
                f.write(f"ssh-config = {self.ssh_state}/ssh_config\n")
        log = open(f"{self.state}.log", "ab")
        self.proc = subprocess.Popen([self.loop.agent_bin, "run", "--config",
                                      conf], stdout=log, stderr=log)
        harness.on_exit(harness.stop, self.proc)  # on every way out

    def log(self):
        with open(f"{self.state}.log", errors="replace") as f:
            return f.read()

    def kill9(self):
        harness.kill9(self.proc)

    def stop(self):
        harness.stop(self.proc, timeout=30)

    def stop_checked(self):
        """Stops it (SIGTERM) and checks that it exits 0."""
        self.stop()
        harness.check("agent stops on SIGTERM", self.proc.returncode == 0,
                      self.proc.returncode)
