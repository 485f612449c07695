"""What the end-to-end tests share: PASS/FAIL bookkeeping, ports, polling, a
real sms-server process and a small HTTP client for the v3 API.

Used by tests/e2e/agent_run_test.py and tests/e2e/pg_replicas_test.py:
    sys.path.insert(0, os.path.join(REPO, "tests", "support"))
    from harness import check, free_port, wait_for, ServerProcess, Client
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

_counts = {"passed": 0, "failed": 0}

# What is undone when the process exits, whatever the way: a return, an
# exception, sys.exit, SIGINT, and SIGTERM/SIGHUP (turned into SystemExit
# below, so `finally` blocks run too). SIGKILL (ctest's default on a
# timeout) runs nothing here: the pg.sh and sshd.sh watchdogs
# (SMS_PG_OWNER_PID, SSHD_OWNER_PID) still remove the daemons, and the
# servers' watchdog below stops the servers.
_servers = []     # every ServerProcess started: stopped first
_cleanups = []    # on_exit(fn): then these, the last registered first
_exiting = {"signal": None}
_kept = set()     # directories kept (SMS_KEEP_TMP=1), named once


def on_exit(fn, *args, **kwargs):
    """Calls fn(*args, **kwargs) when the process exits (after the servers
    stop)."""
    _cleanups.append((fn, args, kwargs))


def scratch_dir(prefix):
    """A new directory under $TMPDIR, removed when the process exits, on
    every path (see above), after the servers started here are stopped.
    SMS_KEEP_TMP=1 keeps it, to read the logs of a failure (its path is
    printed)."""
    path = tempfile.mkdtemp(prefix=prefix)
    on_exit(remove_dir, path)
    return path


def remove_dir(path):
    """Removes the directory path (if there), unless SMS_KEEP_TMP=1 (then
    says so, once)."""
    if not os.path.isdir(path) or path in _kept:
        return
    if os.environ.get("SMS_KEEP_TMP") == "1":
        _kept.add(path)
        print(f"kept {path} (SMS_KEEP_TMP=1)")
    else:
        shutil.rmtree(path, ignore_errors=True)


# The servers' watchdog: a child process of ours that holds a pidfd of each
# process handed to guard() and, once our end of its stdin pipe closes
# (we exited, whatever the way: SIGKILL included), sends each one SIGTERM,
# then SIGKILL after 10 s. A pidfd names the process itself, so a process
# that exited long before is never mistaken for a newer one with its number.
# (PR_SET_PDEATHSIG would not do: it fires when the *thread* that started
# the server ends, and tests start servers from short-lived threads.)
_WATCHDOG = r"""
import os, select, signal, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)  # the owner's group signals are its own
guarded = []
for line in sys.stdin:
    try:
        guarded.append(os.pidfd_open(int(line)))
    except (OSError, ValueError) as e:  # gone already; no pidfd (Linux < 5.3)
        print(f"note: harness watchdog: {line.strip()}: {e!r}", file=sys.stderr)
    print("ok", flush=True)
for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
    alive = []
    for fd in guarded:
        try:
            signal.pidfd_send_signal(fd, sig)
            alive.append(fd)
        except OSError:  # it has exited
            pass
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:  # readable: it has exited
        done, _, _ = select.select(alive, [], [], deadline - time.monotonic())
        alive = [fd for fd in alive if fd not in done]
    guarded = alive
"""
_watchdog = {"proc": None, "lock": threading.Lock()}


def guard(proc):
    """Makes sure the process proc (a subprocess.Popen of ours, not yet
    waited for) does not outlive this process, even when this one is
    SIGKILLed: see _WATCHDOG. ServerProcess.start guards its servers."""
    with _watchdog["lock"]:
        dog = _watchdog["proc"]
        if dog is None or dog.poll() is not None:
            dog = subprocess.Popen([sys.executable, "-c", _WATCHDOG],
                                   stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
            _watchdog["proc"] = dog
        try:
            dog.stdin.write(f"{proc.pid}\n")
            dog.stdin.flush()
            if dog.stdout.readline():  # it holds the pidfd before we go on
                return
        except OSError:
            pass
        print(f"note: no watchdog for pid {proc.pid}: a SIGKILL of this "
              "test would leave it running", file=sys.stderr)


def _stop_watchdog():
    """At a normal exit, after the servers stopped: the watchdog finds
    nothing left to stop and ends; waited for, so nothing is left over."""
    dog = _watchdog["proc"]
    if dog is not None:
        try:
            dog.stdin.close()
            dog.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            dog.kill()
            dog.wait()


@atexit.register
def _undo():
    for server in _servers:
        try:
            server.stop()
        except Exception as e:  # keep undoing the rest
            print(f"note: stopping {server.binary}: {e!r}", file=sys.stderr)
    _stop_watchdog()
    while _cleanups:
        fn, args, kwargs = _cleanups.pop()
        try:
            fn(*args, **kwargs)
        except Exception as e:
            print(f"note: at exit, {fn.__name__}: {e!r}", file=sys.stderr)


def _exit_on_signal(signum, _frame):
    if _exiting["signal"] is None:  # once: the clean-up is not cut short
        _exiting["signal"] = signum
        raise SystemExit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) == signal.SIG_DFL:
        signal.signal(_sig, _exit_on_signal)


def check(name, ok, detail=""):
    """Records and prints one PASS/FAIL line; returns ok."""
    if ok:
        _counts["passed"] += 1
        print(f"PASS {name}")
    else:
        _counts["failed"] += 1
        print(f"FAIL {name} {detail}")
    sys.stdout.flush()
    return ok


def failed():
    return _counts["failed"]


def print_summary():
    """The line ctest's log ends with: "N passed, M failed"."""
    print(f"{_counts['passed']} passed, {_counts['failed']} failed")


def summary_status():
    """Prints the summary line; -> the exit status: 0 when no check failed,
    else 1."""
    print_summary()
    return 1 if failed() else 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(predicate, timeout, step=0.05):
    """Polls predicate until it returns a true value (returned) or timeout
    seconds pass (None)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def kill9(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def stop(proc, timeout=20):
    """SIGTERM, then SIGKILL if `proc` is still there after `timeout` s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


class ServerProcess:
    """`sms-server serve` on a loopback port, logging to log_path.

    db_args: the database arguments, e.g. ["--db", "sqlite:/tmp/x.db"] or
    ["--config", "server.json"]."""

    def __init__(self, binary, db_args, log_path, env=None, nofile=None):
        """nofile: (soft, hard) RLIMIT_NOFILE for the server, as
        `prlimit --nofile=SOFT:HARD` would set it; None: inherited."""
        self.binary = binary
        self.db_args = list(db_args)
        self.log_path = log_path
        self.env = env
        self.nofile = nofile
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, timeout=20):
        log = open(self.log_path, "ab")
        limits = None
        if self.nofile:
            import resource
            nofile = self.nofile

            def limits():
                resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}",
             *self.db_args], stdout=log, stderr=log, env=self.env,
            preexec_fn=limits)
        guard(self.proc)
        if self not in _servers:
            _servers.append(self)
        if not wait_for(lambda: self.status("/healthz") == 200, timeout):
            raise RuntimeError(
                f"sms-server did not start: see {self.log_path}")

    def status(self, path):
        """The HTTP status of GET path, or None when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except Exception:
            return None

    def kill9(self):
        kill9(self.proc)

    def stop(self):
        stop(self.proc)


class Client:
    """The v3 API of one server, by URL (or anything with a .url)."""

    def __init__(self, server):
        self.server = server

    def request(self, method, path, body=None, token=None, headers=None):
        """-> (status, headers dict, raw body bytes); HTTP errors included."""
        url = self.server.url if hasattr(self.server, "url") else self.server
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-Auth-Token", token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, method, path, body=None, token=None):
        """-> (status, parsed JSON body, or the raw body when not JSON)."""
        status, _, raw = self.request(method, path, body, token)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def login(self, domain, user, password):
        """A token for user@domain, scoped to the domain."""
        status, headers, _ = self.request("POST", "/v3/auth/tokens", {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "password": password,
                "domain": {"name": domain}}}},
            "scope": {"domain": {"name": domain}}}})
        assert status == 201, f"login {user}@{domain}: {status}"
        return headers.get("X-Subject-Token") or headers.get("x-subject-token")


class RawResponse:
    """One HTTP response read off a raw socket (raw_exchange)."""

    def __init__(self, status, headers, body, seconds):
        self.status = status      # None: the server closed without answering
        self.headers = headers    # lower-case names
        self.body = body
        self.seconds = seconds    # from the last byte sent to the answer

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def read_response(sock, timeout):
    """Reads one response (Content-Length framed) from sock; -> RawResponse."""
    start = time.time()
    sock.settimeout(timeout)
    data = b""
    head = None
    try:
        while True:
            if head is None and b"\r\n\r\n" in data:
                head, _, data = data.partition(b"\r\n\r\n")
            if head is not None:
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0"))
                if len(data) >= length:
                    return RawResponse(int(lines[0].split()[1]), headers,
                                       data[:length], time.time() - start)
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return RawResponse(None, {}, data, time.time() - start)


def raw_exchange(port, payload, timeout=10.0, shut_write=False):
    """Sends payload bytes to 127.0.0.1:port on a new connection and reads
    one response; shut_write: half-close after sending."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        return read_response(s, timeout)
