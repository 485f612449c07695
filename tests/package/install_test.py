#!/usr/bin/env python3
"""The Debian packages installed into a throw-away Debian 12 root (issue 16,
item 3): never onto this machine.

usage: install_test.py BUILD_DIR
  env: SMS_TEST_PACKAGE=1  run (otherwise exit 77, skipped: the root is
                           downloaded from Debian's archive; `make
                           package-test` sets it)
       SMS_PACKAGE_BASE    a cached base root (tar) to reuse; default
                           BUILD_DIR/package-test/bookworm-base.tar, made by
                           mmdebstrap on first use
       SMS_KEEP_TMP=1      keep the scratch directory (the packages, the
                           root, the logs) to read a failure; otherwise it
                           is removed on every way out, pass or fail
Steps, all inside private mount and network namespaces (unshare -m -n):
  build      packaging/build-debs.sh makes both .deb files, lintian-clean
  install    dpkg -i both into a minimal bookworm root: the `sms` user,
             conffiles and their modes, the state directories
  serve      sms-server started there as the unit does (user sms, the
             packaged config.json): /healthz, the console
  check      sms-agent run there with the packaged agent.conf filled in,
             one check of a task through the API, its result uploaded
  purge      dpkg --purge both: binaries, conffiles and state are gone
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass.
"""
import os
import shutil
import subprocess
import sys
import time
import urllib.request

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from harness import (Client, check, failed, print_summary,  # noqa: E402
                     scratch_dir, wait_for)

MIRRORS = ["deb http://deb.debian.org/debian bookworm main",
           "deb http://deb.debian.org/debian bookworm-updates main",
           "deb http://deb.debian.org/debian-security bookworm-security main"]


def sh(*argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 900)
    return subprocess.run(argv, **kw)


def chroot(root, *argv, user=None, **kw):
    spec = ["--userspec", f"{user}:{user}"] if user else []
    return sh("chroot", *spec, root, *argv, **kw)


def deb_depends(debs):
    """Package names of the Depends of `debs`, versions dropped."""
    names = set()
    for deb in debs:
        field = sh("dpkg-deb", "-f", deb, "Depends").stdout
        for dep in field.split(","):
            names.add(dep.split("|")[0].split("(")[0].strip())
    return sorted(n for n in names if n)


def base_root(debs):
    """A bookworm minbase root with the packages' dependencies, as a tar
    (cached: its name carries the dependency list)."""
    deps = deb_depends(debs)
    default = os.path.join(BUILD, "package-test", "bookworm-base.tar")
    tar = os.environ.get("SMS_PACKAGE_BASE", default)
    stamp = tar + ".deps"
    if os.path.exists(tar) and os.path.exists(stamp) and \
            open(stamp).read() == ",".join(deps):
        return tar
    os.makedirs(os.path.dirname(tar), exist_ok=True)
    t0 = time.time()
    r = sh("mmdebstrap", "--quiet", "--variant=minbase",
           "--include=" + ",".join(deps), "bookworm", tar + ".part.tar", *MIRRORS,
           timeout=1800)
    if r.returncode != 0:
        raise RuntimeError("mmdebstrap: " + r.stderr[-2000:])
    os.replace(tar + ".part.tar", tar)
    with open(stamp, "w") as f:
        f.write(",".join(deps))
    print(f"INFO base root made by mmdebstrap in {time.time() - t0:.0f} s")
    return tar


def mode_owner(root, path):
    st = os.stat(root + path)
    passwd = dict((l.split(":")[2], l.split(":")[0])
                  for l in open(root + "/etc/passwd"))
    group = dict((l.split(":")[2], l.split(":")[0])
                 for l in open(root + "/etc/group"))
    return (oct(st.st_mode & 0o7777), passwd.get(str(st.st_uid)),
            group.get(str(st.st_gid)))


def inside(tmp, base, debs):
    """Runs in the private namespaces: no network, mounts of its own."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    sh("tar", "-C", root, "-xf", base, check=True)
    for d in ("proc", "dev"):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    sh("mount", "-t", "proc", "proc", f"{root}/proc", check=True)
    sh("mount", "--rbind", "/dev", f"{root}/dev", check=True)
    for deb in debs:
        shutil.copy(deb, f"{root}/tmp/")
    names = [os.path.basename(d) for d in debs]

    r = chroot(root, "dpkg", "-i", *[f"/tmp/{n}" for n in names])
    if not check("install: dpkg -i sms-agent sms-server", r.returncode == 0,
                 r.stdout[-1500:] + r.stderr[-1500:]):
        return
    r = chroot(root, "getent", "passwd", "sms")
    check("install: system user sms (no login, home /var/lib/sms-server)",
          r.returncode == 0 and ":/var/lib/sms-server:" in r.stdout
          and "nologin" in r.stdout, r.stdout)
    check("install: /etc/sms-agent/agent.conf is 0600 root:root",
          mode_owner(root, "/etc/sms-agent/agent.conf") ==
          ("0o600", "root", "root"),
          mode_owner(root, "/etc/sms-agent/agent.conf"))
    check("install: /etc/sms-server/config.json is 0640 root:sms",
          mode_owner(root, "/etc/sms-server/config.json") ==
          ("0o640", "root", "sms"),
          mode_owner(root, "/etc/sms-server/config.json"))
    check("install: /var/lib/sms-server is 0750 sms:sms",
          mode_owner(root, "/var/lib/sms-server") == ("0o750", "sms", "sms"),
          mode_owner(root, "/var/lib/sms-server"))
    r = chroot(root, "dpkg-query", "-W", "-f", "${Conffiles}\n", "sms-agent",
               "sms-server")
    check("install: both files are conffiles",
          "/etc/sms-agent/agent.conf" in r.stdout and
          "/etc/sms-server/config.json" in r.stdout, r.stdout)
    docs = ["/usr/share/man/man1/sms-agent.1.gz",
            "/usr/share/man/man1/sms-server.1.gz",
            "/usr/share/bash-completion/completions/sms-agent",
            "/usr/share/bash-completion/completions/sms-server",
            "/usr/share/zsh/vendor-completions/_sms-agent",
            "/usr/share/zsh/vendor-completions/_sms-server"]
    missing = [p for p in docs if not os.path.isfile(root + p)]
    check("install: man pages and bash/zsh completions", not missing, missing)
    r = chroot(root, "/usr/bin/sms-server", "--version")
    check("install: sms-server --version names its commit",
          r.returncode == 0 and "(commit " in r.stdout, r.stdout + r.stderr)
    r = chroot(root, "/usr/libexec/sms-agent/sms-agent-static", "--version")
    check("install: the static agent for targets runs",
          r.returncode == 0 and r.stdout.strip(), r.stderr)

    # ---- serve, as sms-server.service does ------------------------------

    def admin(*args, stdin=None):
        # The packaged config names the database (docs/packaging.md).
        r = chroot(root, "/usr/bin/sms-server", "admin", "--config",
                   "/etc/sms-server/config.json", *args,
                   user="sms", input=stdin)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout.strip()
    admin("create-domain", "acme")
    admin("create-user", "--domain", "acme", "--name", "ops", "--role",
          "operator", stdin="operator-pass-1\n")
    admin("create-user", "--domain", "acme", "--name", "bot", "--role",
          "agent", stdin="agent-pass-123\n")
    ak, sk = admin("create-credential", "--domain", "acme", "--user",
                   "bot").split()
    log = open(f"{tmp}/server.log", "ab")
    server = subprocess.Popen(
        ["chroot", "--userspec=sms:sms", root, "/bin/sh", "-c",
         "cd /var/lib/sms-server && exec /usr/bin/sms-server serve "
         "--config /etc/sms-server/config.json"], stdout=log, stderr=log)
    agent = None
    try:
        url = "http://127.0.0.1:8080"

        def status(path):
            try:
                with urllib.request.urlopen(url + path, timeout=2) as r:
                    return r.status, r.read()
            except Exception:
                return None, b""
        ok = wait_for(lambda: status("/healthz")[0] == 200, 30)
        if not check("serve: sms-server answers /healthz with the packaged "
                     "config.json", ok, open(f"{tmp}/server.log").read()[-2000:]):
            return
        code, body = status("/console/")
        check("serve: the console is served from /usr/share/sms-server",
              code == 200 and b"<html" in body.lower(), (code, body[:200]))

        # ---- one check, by the agent service's command line ---------------
        os.makedirs(f"{root}/srv/data/sub")
        os.makedirs(f"{root}/mnt/target/sub")
        for base in ("srv/data", "mnt/target"):
            with open(f"{root}/{base}/same.txt", "w") as f:
                f.write("same\n")
        with open(f"{root}/srv/data/sub/only-on-source.txt", "w") as f:
            f.write("x\n")
        with open(f"{root}/etc/sms-agent/agent.conf", "a") as f:
            f.write(f"server = {url}\nak = {ak}\nsk = {sk}\nname = pkg\n"
                    "poll-interval = 0.3\nsource-root = /srv/data\n")
        alog = open(f"{tmp}/agent.log", "ab")
        agent = subprocess.Popen(
            ["chroot", root, "/usr/bin/env",
             "SMS_AGENT_STATE_DIR=/var/lib/sms-agent", "/usr/bin/sms-agent",
             "run", "--config", "/etc/sms-agent/agent.conf"],
            stdout=alog, stderr=alog)
        client = Client(url)
        ops = client.login("acme", "ops", "operator-pass-1")

        def source():
            _, b = client.json("GET", "/v3/sources?name=pkg", token=ops)
            return next((s["id"] for s in (b or {}).get("source_servers", [])
                         if s["name"] == "pkg"), None)
        src = wait_for(source, 30, 0.2)
        if not check("check: the agent service registered its source", src,
                     open(f"{tmp}/agent.log").read()[-2000:]):
            return
        _, body = client.json("POST", "/v3/tasks", {
            "name": "pkg", "type": "MIGRATE_FILE", "os_type": "LINUX",
            "source_server": {"id": src},
            "target_server": {"name": "t", "ip": "127.0.0.1",
                              "verify_uri": "file:///mnt/target"}}, ops)
        task = body["id"]
        client.json("POST", f"/v3/tasks/{task}/configuration-setting",
                    {"configurations": [{"config_key": "CONSISTENCY_DIR",
                                         "config_value": "/"}]}, ops)
        st, body = client.json("POST", f"/v3/tasks/{task}/action",
                               {"operation": "consistency_check"}, ops)

        def result():
            s, b = client.json("GET", f"/v3/tasks/{task}/consistency-result",
                               token=ops)
            runs = (b or {}).get("result_list", []) if s == 200 else []
            return runs or None
        runs = wait_for(result, 60, 0.2) or []
        dirs = runs[0].get("consistency_result", []) if runs else []
        check("check: one run uploaded: 2 files, 1 missing on the target",
              len(runs) == 1 and runs[0].get("check_result") == "success"
              and len(dirs) == 1 and dirs[0].get("num_total_files") == 2
              and dirs[0].get("num_target_miss_files") == 1
              and dirs[0].get("num_different_files") == 0, (st, runs))
    finally:
        for p in (agent, server):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()

    # ---- purge -----------------------------------------------------------
    r = chroot(root, "dpkg", "--purge", "sms-agent", "sms-server")
    check("purge: dpkg --purge sms-agent sms-server", r.returncode == 0,
          r.stdout[-1500:] + r.stderr[-1500:])
    left = [p for p in ("/usr/bin/sms-agent", "/usr/bin/sms-server",
                        "/usr/libexec/sms-agent", "/etc/sms-agent",
                        "/etc/sms-server", "/var/lib/sms-agent",
                        "/var/lib/sms-server", "/usr/share/sms-server",
                        "/lib/systemd/system/sms-server.service", *docs)
            if os.path.lexists(root + p)]
    check("purge: binaries, conffiles and state are gone", not left, left)


def main():
    if os.environ.get("SMS_TEST_PACKAGE") != "1":
        print("SKIP set SMS_TEST_PACKAGE=1 (make package-test): downloads a "
              "Debian 12 root")
        return 77
    if len(sys.argv) > 2 and sys.argv[2] == "--inside":
        inside(sys.argv[3], sys.argv[4], sys.argv[5:])
        print_summary()
        return 1 if failed() else 0
    for tool in ("mmdebstrap", "lintian", "dpkg-shlibdeps", "unshare"):
        if shutil.which(tool) is None:
            print(f"FAIL {tool} is missing (scripts/bootstrap.sh with "
                  "SMS_BOOTSTRAP_PACKAGE=1 installs it)")
            return 1
    # Removed at exit on every way out (SMS_KEEP_TMP=1 keeps it). The root's
    # mounts live only in the namespace below, so none is under it then.
    tmp = scratch_dir("sms-package.")
    try:
        r = sh(os.path.join(REPO, "packaging", "build-debs.sh"), BUILD,
               os.path.join(tmp, "debs"))
        debs = [l for l in r.stdout.splitlines() if l.endswith(".deb")]
        check("build: both packages built and lintian-clean for errors",
              r.returncode == 0 and len(debs) == 2, r.stdout + r.stderr)
        if len(debs) == 2:
            # Downloaded here: the namespaces below have no network.
            base = base_root(debs)
            r = sh("unshare", "-m", "-n", "--propagation", "private",
                   sys.executable, os.path.abspath(__file__), BUILD,
                   "--inside", tmp, base, *debs, timeout=3600,
                   env=dict(os.environ))
            for line in r.stdout.splitlines():
                if line.startswith(("PASS ", "FAIL ")):
                    check(line[5:], line.startswith("PASS"))
            check("the namespace part finished", r.returncode == 0,
                  r.stderr[-2000:])
    finally:
        print_summary()
        if failed() and os.environ.get("SMS_KEEP_TMP") != "1":
            print(f"{tmp} is removed: SMS_KEEP_TMP=1 keeps it")
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
