#!/usr/bin/env python3
"""The fully static agent (issue 16), run where nothing else is: a root
directory holding only the binary and the trees (tests/static/empty_root_exec).

usage: static_agent_test.py BUILD_DIR
  linkage   bin/sms-agent-static has no dynamic section (ldd: "not a dynamic
            executable"); its size is printed
  manifest  in the empty root, `manifest` writes the same bytes as the dynamic
            bin/sms-agent on the host (hash xxh128, hash sha256, quick), also
            with the system calls of Linux > 3.10 refused (no io_uring,
            statx, clone3, rseq, getrandom ...)
  verify    in the empty root, `verify --json --list` reports what the
            dynamic agent reports and what gen_tree.py's truth says, also on
            the emulated 3.10 system call table
  network   in a private network namespace (unshare -n), a real sms-server on
            its loopback; the static agent in the empty root (now with only
            /etc/hosts and /etc/resolv.conf) uploads a run with
            `verify --server --task` to a name from /etc/hosts over http, and
            to a name only DNS knows (a name server on the namespace's
            127.0.0.1:53) over https verified against a CA file, also on
            the emulated 3.10 system call table
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass,
77 when the shared kit (gen_tree.py) is missing.
"""
import json
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import ssl

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("SMS_SHARED_DIR", os.path.join(REPO, "..", "shared"))
GEN = os.path.join(SHARED, "bench", "gen_tree.py")
CHECK_TRUTH = os.path.join(REPO, "tests", "e2e", "check_truth.py")
STATIC = os.path.join(BUILD, "bin", "sms-agent-static")
DYNAMIC = os.path.join(BUILD, "bin", "sms-agent")
SERVER_BIN = os.path.join(BUILD, "bin", "sms-server")
EXEC = os.path.join(BUILD, "tests", "empty_root_exec")

sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from harness import (check, Client, failed, print_summary,  # noqa: E402
                     scratch_dir, ServerProcess, stop, summary_status,
                     wait_for)

# The agents get exactly this environment: no proxy of the host's.
ENV = {"PATH": "/usr/bin:/bin"}


def run(argv, env=None, **kw):
    return subprocess.run(argv, capture_output=True, env=env or ENV,
                          timeout=300, **kw)


def in_root(root, *args, old_kernel=False, env=None):
    """The static agent inside `root` (it is /sms-agent there)."""
    prefix = [EXEC] + (["--old-kernel"] if old_kernel else []) + [root]
    return run(prefix + ["/sms-agent", *args], env=env)


def make_root(tmp):
    """An empty root: the static binary, the trees, a directory to write to."""
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "out"))
    shutil.copy2(STATIC, os.path.join(root, "sms-agent"))
    gen = run([sys.executable, GEN, "--out", os.path.join(root, "data"),
               "--files", "1500", "--awkward", "--symlinks", "4",
               "--empty-dirs", "3"])
    if gen.returncode != 0:
        raise RuntimeError(gen.stderr.decode(errors="replace"))
    return root


def part_linkage():
    ldd = run(["ldd", STATIC])
    out = (ldd.stdout + ldd.stderr).decode(errors="replace")
    check("linkage: ldd says not a dynamic executable",
          "not a dynamic executable" in out, out)
    with open(STATIC, "rb") as f:
        elf = f.read()
    # No PT_INTERP (no dynamic loader) and no PT_DYNAMIC: a static executable.
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    types = [struct.unpack_from("<I", elf, phoff + i * phentsize)[0]
             for i in range(phnum)]
    check("linkage: no PT_INTERP, no PT_DYNAMIC",
          3 not in types and 2 not in types, types)
    size = os.path.getsize(STATIC)
    print(f"INFO sms-agent-static: {size} bytes ({size / 2**20:.1f} MiB, "
          "stripped)")


def part_manifest(root):
    src = os.path.join(root, "data", "src")
    for label, opts in [("xxh128", []), ("sha256", ["--hash", "sha256"]),
                        ("quick", ["--mode", "quick"])]:
        want = run([DYNAMIC, "manifest", *opts, src])
        if not check(f"manifest {label}: the dynamic agent wrote one",
                     want.returncode == 0 and len(want.stdout) > 1000,
                     want.stderr[-300:]):
            continue
        for old in (False, True):
            name = f"manifest {label}{' (3.10 system calls)' if old else ''}"
            got = in_root(root, "manifest", *opts, "/data/src",
                          old_kernel=old)
            check(f"{name}: the static agent in the empty root wrote the "
                  f"same {len(want.stdout)} bytes",
                  got.returncode == 0 and got.stdout == want.stdout,
                  f"rc {got.returncode}, {len(got.stdout)} bytes, "
                  f"{got.stderr[-300:]}")


def part_verify(root, tmp):
    data = os.path.join(root, "data")
    want = run([DYNAMIC, "verify", "--json", "--no-progress", "--list",
                f"{tmp}/dynamic.list", os.path.join(data, "src"),
                os.path.join(data, "dst")])
    with open(f"{tmp}/dynamic.json", "wb") as f:
        f.write(want.stdout)
    check("verify: the dynamic agent found the differences (exit 1)",
          want.returncode == 1, want.stderr[-300:])
    for old in (False, True):
        name = "static" + ("_3.10" if old else "")
        got = in_root(root, "verify", "--json", "--no-progress", "--list",
                      f"/out/{name}.list", "/data/src", "/data/dst",
                      old_kernel=old)
        with open(f"{tmp}/{name}.json", "wb") as f:
            f.write(got.stdout)
        shutil.copy(f"{root}/out/{name}.list", f"{tmp}/{name}.list")
        check(f"verify {name}: exit 1 in the empty root", got.returncode == 1,
              got.stderr[-300:])
        same = run([sys.executable, CHECK_TRUTH, "same", f"{tmp}/dynamic.json",
                    f"{tmp}/dynamic.list", f"{tmp}/{name}.json",
                    f"{tmp}/{name}.list", "--label", f"{name} = dynamic"])
        check(f"verify {name}: the same report and list as the dynamic agent",
              same.returncode == 0, same.stdout.decode()[-600:])
        truth = run([sys.executable, CHECK_TRUTH, "truth", data,
                     f"{tmp}/{name}.json", f"{tmp}/{name}.list", "--mode",
                     "hash", "--label", name])
        check(f"verify {name}: equals the truth", truth.returncode == 0,
              truth.stdout.decode()[-600:])


# ---- network: everything below runs inside `unshare -n` ----------------------

class TinyDns(threading.Thread):
    """A name server on 127.0.0.1:53 answering A queries for `names` and
    NXDOMAIN for every other name."""

    def __init__(self, names):
        super().__init__(daemon=True)
        self.names = names
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))

    def run(self):
        while True:
            q, peer = self.sock.recvfrom(512)
            labels, i = [], 12
            while q[i]:
                labels.append(q[i + 1:i + 1 + q[i]].decode())
                i += q[i] + 1
            name = ".".join(labels)
            qtype = struct.unpack_from(">H", q, i + 1)[0]
            self.queries.append(name)
            known = name in self.names
            answers = 1 if known and qtype == 1 else 0
            r = q[:2] + bytes([0x81, 0x80 if known else 0x83]) + q[4:6]
            r += struct.pack(">HHH", answers, 0, 0) + q[12:i + 5]
            if answers:
                r += bytes([0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4])
                r += socket.inet_aton(self.names[name])
            self.sock.sendto(r, peer)


def tls_server(tmp, db, port):
    key, cert = f"{tmp}/tls.key", f"{tmp}/tls.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=sms-dns.test", "-addext",
                    "subjectAltName=DNS:sms-dns.test", "-keyout", key,
                    "-out", cert], check=True, capture_output=True)
    log = open(f"{tmp}/tls-server.log", "ab")
    proc = subprocess.Popen([SERVER_BIN, "serve", "--listen",
                             f"127.0.0.1:{port}", "--db", db, "--tls-cert",
                             cert, "--tls-key", key], stdout=log, stderr=log)
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False

    def up():
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz",
                                        context=ctx, timeout=2) as r:
                return r.status == 200
        except Exception:
            return False
    if not wait_for(up, 20):
        raise RuntimeError(f"TLS sms-server did not start: {tmp}/tls-server.log")
    return proc, cert


def part_network(root, tmp):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    db = f"sqlite:{tmp}/sms.db"

    def admin(*args, stdin=None):
        return subprocess.run([SERVER_BIN, "admin", "--db", db, *args],
                              input=stdin, capture_output=True, text=True,
                              check=True).stdout.strip()
    admin("create-domain", "acme")
    admin("create-user", "--domain", "acme", "--name", "ops", "--role",
          "operator", stdin="operator-pass-1\n")
    admin("create-user", "--domain", "acme", "--name", "bot", "--role",
          "agent", stdin="agent-pass-123\n")
    ak, sk = admin("create-credential", "--domain", "acme", "--user",
                   "bot").split()
    server = ServerProcess(SERVER_BIN, ["--db", db], f"{tmp}/server.log")
    server.start()
    client = Client(server)
    bot = client.login("acme", "bot", "agent-pass-123")
    status, body = client.json("POST", "/v3/sources", {
        "name": "static", "hostname": "static", "ip": "127.0.0.1",
        "os_type": "LINUX", "os_version": "", "agent_version": "0.1.0"}, bot)
    ops = client.login("acme", "ops", "operator-pass-1")
    status, body = client.json("POST", "/v3/tasks", {
        "name": "static-agent", "type": "MIGRATE_FILE", "os_type": "LINUX",
        "source_server": {"id": body["id"]},
        "target_server": {"name": "t", "ip": "127.0.0.1",
                          "verify_uri": "file:///data/dst"}}, ops)
    task = body["id"]

    os.makedirs(f"{root}/etc", exist_ok=True)
    os.makedirs(f"{root}/state", exist_ok=True)
    with open(f"{root}/etc/hosts", "w") as f:
        f.write("127.0.0.1 localhost\n127.0.0.1 sms-hosts.test\n")
    with open(f"{root}/etc/resolv.conf", "w") as f:
        f.write("nameserver 127.0.0.1\noptions ndots:1\n")
    env = dict(ENV, SMS_AGENT_AK=ak, SMS_AGENT_SK=sk)

    def runs():
        status, body = client.json("GET", f"/v3/tasks/{task}/consistency-result",
                                   token=ops)
        return body.get("result_list", []) if status == 200 else []

    url = f"http://sms-hosts.test:{server.port}"
    got = in_root(root, "verify", "--no-progress", "/data/src", "/data/dst",
                  "--server", url, "--task", task, "--state-dir", "/state",
                  env=env)
    check(f"network: uploaded to {url} (a name from /etc/hosts)",
          got.returncode == 1 and len(wait_for(runs, 20) or []) == 1,
          (got.returncode, got.stderr[-500:], runs()))

    stop(server.proc)
    dns = TinyDns({"sms-dns.test": "127.0.0.1"})
    dns.start()
    proc, cert = tls_server(tmp, db, server.port)
    try:
        shutil.copy(cert, f"{root}/ca.pem")
        url = f"https://sms-dns.test:{server.port}"
        got = in_root(root, "verify", "--no-progress", "/data/src",
                      "/data/dst", "--server", url, "--task", task,
                      "--state-dir", "/state",
                      env=dict(env, SMS_AGENT_CA_FILE="/ca.pem"))
        check(f"network: uploaded to {url} (a name only DNS knows, TLS "
              "verified)",
              got.returncode == 1 and "sms-dns.test" in dns.queries,
              (got.returncode, got.stderr[-500:], dns.queries))
        # The same on the system calls of Linux 3.10: no getrandom(2), so
        # OpenSSL waits for /dev/random and reads /dev/urandom, as on such a
        # host (the root gets the two device nodes every host has).
        os.makedirs(f"{root}/dev", exist_ok=True)
        for name, minor in (("random", 8), ("urandom", 9)):
            os.mknod(f"{root}/dev/{name}", 0o666 | stat.S_IFCHR,
                     os.makedev(1, minor))
        got = in_root(root, "verify", "--no-progress", "/data/src",
                      "/data/dst", "--server", url, "--task", task,
                      "--state-dir", "/state", old_kernel=True,
                      env=dict(env, SMS_AGENT_CA_FILE="/ca.pem"))
        check(f"network: uploaded to {url} on the 3.10 system calls",
              got.returncode == 1, (got.returncode, got.stderr[-500:]))
        # Without the CA the certificate is refused, and the run stays in the
        # spool (exit 1 is the verdict; the upload error is on stderr).
        got = in_root(root, "verify", "--no-progress", "/data/src",
                      "/data/dst", "--server", url, "--task", task,
                      "--state-dir", "/state", env=env)
        err = got.stderr.decode(errors="replace")
        check("network: without a CA store the server is not trusted",
              "no system CA store" in err or "certificate verify" in err, err)
    finally:
        stop(proc)
    # Exactly the two trusted uploads arrived.
    server.start()
    try:
        check("network: the server holds the three uploaded runs",
              len(runs()) == 3, runs())
    finally:
        server.stop()


def main():
    if len(sys.argv) > 2 and sys.argv[2] == "--in-netns":
        root, tmp = sys.argv[3], sys.argv[4]
        part_network(root, tmp)
        return summary_status()
    for path in (STATIC, DYNAMIC, EXEC):
        if not os.access(path, os.X_OK):
            print(f"FAIL {path} is missing: build first (make build)")
            return 1
    if not os.path.exists(GEN):
        print(f"SKIP the shared kit is missing: {GEN}")
        return 77
    tmp = scratch_dir("sms-static.")
    try:
        part_linkage()
        root = make_root(tmp)
        part_manifest(root)
        part_verify(root, tmp)
        net = subprocess.run(["unshare", "-n", sys.executable,
                              os.path.abspath(__file__), BUILD, "--in-netns",
                              root, tmp], capture_output=True, text=True,
                             timeout=600)
        for line in net.stdout.splitlines():
            if line.startswith(("PASS ", "FAIL ", "INFO ")):
                check(line[5:], line.startswith(("PASS", "INFO")))
        check("network: the namespace part finished", net.returncode == 0,
              net.stderr[-1500:])
    finally:
        print_summary()
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
