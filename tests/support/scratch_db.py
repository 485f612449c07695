"""A throw-away database for a script that runs sms-server on it: SQLite in
a work directory, or a PostgreSQL 15 cluster of its own (pg.sh), with one
domain "d" and its admin "op". Used by security/changes_rss_test.py and
src/server/bench_details.py, bench_detail_pages.py, bench_metrics.py."""
import contextlib
import os
import shutil
import subprocess
import tempfile

from harness import ServerProcess

PG_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pg.sh")


@contextlib.contextmanager
def scratch_database(binary, work, password, pg=False, fsync=False):
    """Yields the --db value of a fresh database in `work` (an existing
    directory the caller removes), set up by `binary` (sms-server) with
    domain "d" and user "op" (role admin, `password`). pg: on a PostgreSQL
    cluster started for it (fsync: on, as in production; off by default)
    and destroyed when the block ends."""
    pg_state = None
    try:
        if pg:
            pg_state = os.path.join(work, "pg")
            os.mkdir(pg_state)
            # Destroyed with this process even if it is killed (SIGKILL:
            # no `finally` runs), by pg.sh's watchdog.
            env = dict(os.environ, SMS_PG_OWNER_PID=str(os.getpid()))
            if fsync:
                env["SMS_PG_FSYNC"] = "on"
            subprocess.run(["bash", PG_SH, "start", pg_state], check=True,
                           stdout=subprocess.DEVNULL, env=env)
            with open(os.path.join(pg_state, "url")) as f:
                db = f.read().strip()
        else:
            db = "sqlite:%s/sms.db" % work
        subprocess.run([binary, "admin", "--db", db, "create-domain", "d"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([binary, "admin", "--db", db, "create-user",
                        "--domain", "d", "--name", "op", "--role", "admin"],
                       check=True, input=(password + "\n").encode(),
                       stdout=subprocess.DEVNULL)
        yield db
    finally:
        if pg_state:
            subprocess.run(["bash", PG_SH, "destroy", pg_state],
                           stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def scratch_server(build, name, pg=False):
    """Yields sms-server of the build directory `build` (a ServerProcess,
    started) on a scratch_database with fsync on, as in production, in a
    temp directory removed afterwards. Its admin "op" of domain "d" has the
    password NAME-password."""
    binary = os.path.join(build, "bin", "sms-server")
    work = tempfile.mkdtemp(prefix="sms-%s-" % name)
    try:
        with scratch_database(binary, work, name + "-password", pg,
                              fsync=True) as db:
            srv = ServerProcess(binary, ["--db", db],
                                os.path.join(work, "log"))
            srv.start()
            try:
                yield srv
            finally:
                srv.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
