"""The set-up the server's end-to-end tests share (tests/e2e/pg_replicas_test.py,
retention_test.py, schedule_test.py): the test's build directory and server
binary, the harness names they use, a PostgreSQL database of the test's own
in the cluster `tests/support/pg.sh exec` runs, the domain "acme" with an
operator and an agent, a registered source and a task; and the end of a test:
the summary line, the servers' log tails when something failed.

Each test is run as `TEST.py BUILD_DIR [ARG...]` and starts with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    os.pardir, "support"))
    from e2e_setup import SERVER_BIN, check, PgDatabase, seed_acme, ...
"""
import os
import subprocess
import sys

# What the tests take from the harness, from here with the rest.
from harness import (Client, ServerProcess, check, failed,  # noqa: F401
                     on_exit, print_summary, remove_dir, scratch_dir,
                     wait_for)

# The build directory named first on the test's command line, and its server.
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else ""
SERVER_BIN = os.path.join(BUILD, "bin", "sms-server")

# Set by `tests/support/pg.sh exec STATE_DIR ...` (ctest does this).
PG_DSN = os.environ.get("SMS_TEST_PG_DSN", "")
PG_URL = os.environ.get("SMS_TEST_PG_URL", "")
PG_STATE = os.environ.get("SMS_TEST_PG_STATE", "")
PG_SKIP = "SKIP: SMS_TEST_PG_DSN/URL/STATE not set (run via pg.sh exec)"

OP_PASSWORD = "op-password-1"
AGENT_PASSWORD = "agent-password-1"


def pg_available():
    return bool(PG_DSN and PG_URL and PG_STATE)


def psql(sql, dsn=None):
    """Runs sql in the cluster's database (or in dsn's); -> its output."""
    return subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           dsn or PG_DSN, "-c", sql],
                          capture_output=True, text=True,
                          check=True).stdout.strip()


class PgDatabase:
    """A database of our own in the shared cluster, named PREFIX_PID. The
    servers reach it over TCP through the URI form (.url:
    postgresql://user@127.0.0.1:port/db), as a user would write it; .dsn is
    the libpq key=value form, for psql."""

    def __init__(self, prefix):
        self.name = f"{prefix}_{os.getpid()}"
        self.url = PG_URL.rsplit("/", 1)[0] + "/" + self.name
        self.dsn = PG_DSN.replace("dbname=sms", f"dbname={self.name}")

    def create(self):
        """Creates it, to be dropped when the process exits at the latest."""
        psql(f"DROP DATABASE IF EXISTS {self.name}")
        psql(f"CREATE DATABASE {self.name}")
        on_exit(self.drop)

    def drop(self):
        try:
            psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        except Exception as e:  # the cluster is destroyed after the tests
            print(f"note: drop database: {e}")

    def psql(self, sql):
        return psql(sql, self.dsn)


def seed_acme(server_bin, db, env, extra_users=()):
    """Migrates db and creates the domain "acme" with the users "op"
    (operator) and "agent" (agent), and extra_users ((name, role,
    password) each), through `sms-server admin`."""
    def admin(*args, stdin=None):
        subprocess.run([server_bin, "admin", "--db", db, *args], input=stdin,
                       capture_output=True, text=True, check=True, env=env)
    admin("migrate")
    admin("create-domain", "acme")
    admin("create-user", "--domain", "acme", "--name", "op",
          "--role", "operator", stdin=OP_PASSWORD + "\n")
    admin("create-user", "--domain", "acme", "--name", "agent",
          "--role", "agent", stdin=AGENT_PASSWORD + "\n")
    for name, role, password in extra_users:
        admin("create-user", "--domain", "acme", "--name", name,
              "--role", role, stdin=password + "\n")


def register_source(server, agent_token):
    """Registers the source "web01" through server; -> its id."""
    status, src = Client(server).json("POST", "/v3/sources", {
        "name": "web01", "hostname": "web01", "ip": "10.0.0.1",
        "os_type": "LINUX", "os_version": "debian12",
        "agent_version": "test"}, agent_token)
    assert status == 200, f"register source: {status} {src}"
    return src["id"]


def make_task(server, token, source_id, name):
    """Creates a task from source_id to a file:// target; -> its id."""
    status, body = Client(server).json("POST", "/v3/tasks", {
        "name": name, "type": "MIGRATE_FILE", "os_type": "LINUX",
        "source_server": {"id": source_id},
        "target_server": {"name": "t", "ip": "10.0.0.2",
                          "verify_uri": "file:///mnt/target"},
        "is_need_consistency_check": True}, token)
    assert status == 200, f"create task: {status} {body}"
    return body["id"]


def finish(tmp, server_names, tail_lines):
    """Prints the summary; on a failure the tail of each server-NAME.log in
    tmp; then removes tmp, pass or fail, unless SMS_KEEP_TMP=1 (a
    harness.scratch_dir is removed at exit anyway, on every way out).
    -> the exit status (0 only when all passed)."""
    print_summary()
    if failed():
        for name in server_names:
            path = f"{tmp}/server-{name}.log"
            if os.path.exists(path):
                print(f"--- tail of server-{name}.log")
                with open(path, errors="replace") as f:
                    print("".join(f.readlines()[-tail_lines:]))
    remove_dir(tmp)
    return 0 if failed() == 0 else 1
