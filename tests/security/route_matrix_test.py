#!/usr/bin/env python3
"""The route x caller matrix (issue 11): every route of the server's own
/openapi.json, called by every kind of caller, against the real sms-server
over HTTP on loopback.

Callers: no credentials; a garbage, a revoked and an expired token; each
role (admin, operator, viewer, agent) of tenant A by token; an agent of A
that did not register the task's source; A's admin on tenant B's ids; A's
admin by AK/SK, correctly signed and with each part tampered with (access
key, signature, signed headers, date, body, query); AK/SK with the
X-Domain-Id of B; a token with the X-Domain-Id of B (refused) and of A
(accepted).

ROWS holds one row per route: what each role may do (from docs/server.md
"Roles and tenants" and spec/API.md §2). A route of /openapi.json without
a row, or a row for a route the server does not document, fails the test:
a new route must say who may call it.

Usage: route_matrix_test.py BUILD_DIR
"""
import datetime
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from harness import (check, Client, scratch_dir, ServerProcess,  # noqa: E402
                     summary_status)

ROLES = ("admin", "operator", "viewer", "agent")
READERS = {"admin", "operator", "viewer"}
WRITERS = {"admin", "operator"}
AGENTS = {"admin", "agent"}
ADMINS = {"admin"}
EVERYONE = set(ROLES)
PUBLIC = "public"  # no credentials needed
SUBJECT = "subject"  # the token named by X-Subject-Token is the credential


def run_body(run_id):
    now = int(time.time() * 1000)
    return {"run_id": run_id, "check_result": "success",
            "started_time": now - 1000, "finished_time": now, "mode": "hash",
            "consistency_result": [
                {"dir_check": "/data", "num_total_files": 1,
                 "num_different_files": 0, "num_target_miss_files": 0,
                 "num_target_more_files": 0}]}


def details_body(run_id):
    return {"run_id": run_id, "seq": 0, "files": [
        {"dir_check": "/data", "path": "a", "status": "different",
         "reason": "content", "source": {"type": "file", "size": 1},
         "target": {"type": "file", "size": 2}}]}


# (method, pattern) -> (who may call it, request builder). A builder gets
# the tenant's fixture (ids; fresh ones for routes that consume them) and
# returns (path with query, JSON body or None, extra headers).
ROWS = {
    ("GET", "/healthz"): (PUBLIC, lambda t: ("/healthz", None, {})),
    ("GET", "/readyz"): (PUBLIC, lambda t: ("/readyz", None, {})),
    ("GET", "/metrics"): (PUBLIC, lambda t: ("/metrics", None, {})),
    ("GET", "/openapi.json"): (PUBLIC, lambda t: ("/openapi.json", None, {})),
    ("POST", "/v3/auth/tokens"): (
        PUBLIC, lambda t: ("/v3/auth/tokens", t.login_body("viewer"), {})),
    # Revoking a token: holding it is the credential (whoever holds a token
    # may use it, so may also end it); see check_revocation.
    ("DELETE", "/v3/auth/tokens"): (
        SUBJECT,
        lambda t: ("/v3/auth/tokens", None,
                   {"X-Subject-Token": t.fresh_token("viewer")})),
    # Clearing a login lock: an admin, for a user of its own tenant.
    ("DELETE", "/v3/auth/login-failures"): (
        ADMINS,
        lambda t: ("/v3/auth/login-failures?user_name=viewer", None, {})),
    ("POST", "/v3/tasks"): (
        WRITERS, lambda t: ("/v3/tasks", t.task_body(), {})),
    ("GET", "/v3/tasks"): (READERS, lambda t: ("/v3/tasks", None, {})),
    ("GET", "/v3/tasks/{task_id}"): (
        READERS, lambda t: (f"/v3/tasks/{t.task}", None, {})),
    ("DELETE", "/v3/tasks/{task_id}"): (
        WRITERS, lambda t: (f"/v3/tasks/{t.fresh_task()}", None, {})),
    ("POST", "/v3/tasks/{task_id}/configuration-setting"): (
        WRITERS,
        lambda t: (f"/v3/tasks/{t.task}/configuration-setting",
                   {"configurations": [{"config_key": "CONSISTENCY_DIR",
                                        "config_value": "/data"}]}, {})),
    ("GET", "/v3/tasks/{task_id}/configuration-setting"): (
        READERS,
        lambda t: (f"/v3/tasks/{t.task}/configuration-setting", None, {})),
    ("POST", "/v3/tasks/{task_id}/action"): (
        WRITERS,
        lambda t: (f"/v3/tasks/{t.fresh_task()}/action",
                   {"operation": "consistency_check"}, {})),
    ("GET", "/v3/tasks/{task_id}/consistency-result"): (
        READERS,
        lambda t: (f"/v3/tasks/{t.task}/consistency-result", None, {})),
    ("POST", "/v3/tasks/{task_id}/consistency-result"): (
        AGENTS,
        lambda t: (f"/v3/tasks/{t.task}/consistency-result",
                   run_body(str(uuid.uuid4())), {})),
    ("POST", "/v3/tasks/{task_id}/consistency-result/details"): (
        AGENTS,
        lambda t: (f"/v3/tasks/{t.task}/consistency-result/details",
                   details_body(str(uuid.uuid4())), {})),
    # An agent pages the base run of a re-check (scope "inconsistent").
    ("GET", "/v3/tasks/{task_id}/consistency-result/details"): (
        EVERYONE,
        lambda t: (f"/v3/tasks/{t.task}/consistency-result/details"
                   f"?run_id={t.run}", None, {})),
    ("POST", "/v3/tasks/consistency-results/export"): (
        READERS,
        lambda t: ("/v3/tasks/consistency-results/export",
                   {"task_info": [{"task_id": t.task}]},
                   {"Accept": "application/json"})),
    ("POST", "/v3/sources"): (
        AGENTS, lambda t: ("/v3/sources", t.source_body(), {})),
    ("GET", "/v3/sources"): (READERS, lambda t: ("/v3/sources", None, {})),
    ("GET", "/v3/sources/{source_id}"): (
        READERS, lambda t: (f"/v3/sources/{t.source}", None, {})),
    ("GET", "/v3/sources/{source_id}/command"): (
        AGENTS, lambda t: (f"/v3/sources/{t.source}/command", None, {})),
    ("POST", "/v3/sources/{source_id}/command_result"): (
        AGENTS,
        lambda t: (f"/v3/sources/{t.source}/command_result",
                   {"command_name": "CONSISTENCY_CHECK", "result": "success"},
                   {})),
    # Issue 13: changes since the last run; webhooks (admin only).
    ("GET", "/v3/tasks/{task_id}/consistency-result/changes"): (
        READERS,
        lambda t: (f"/v3/tasks/{t.task}/consistency-result/changes"
                   f"?from={t.run}&to={t.run}", None, {})),
    ("POST", "/v3/webhooks"): (
        ADMINS, lambda t: ("/v3/webhooks", t.webhook_body(), {})),
    ("GET", "/v3/webhooks"): (ADMINS, lambda t: ("/v3/webhooks", None, {})),
    ("GET", "/v3/webhooks/{webhook_id}"): (
        ADMINS, lambda t: (f"/v3/webhooks/{t.webhook}", None, {})),
    ("DELETE", "/v3/webhooks/{webhook_id}"): (
        ADMINS, lambda t: (f"/v3/webhooks/{t.fresh_webhook()}", None, {})),
    ("GET", "/v3/webhooks/{webhook_id}/deliveries"): (
        ADMINS,
        lambda t: (f"/v3/webhooks/{t.webhook}/deliveries", None, {})),
    # Issue 13.5: the tenant's default retention; read by every reader, set
    # by its admin.
    ("GET", "/v3/consistency-settings"): (
        READERS, lambda t: ("/v3/consistency-settings", None, {})),
    ("PUT", "/v3/consistency-settings"): (
        ADMINS,
        lambda t: ("/v3/consistency-settings", {"retention": "runs=100"}, {})),
}

# Routes whose path names an id of the tenant: another tenant's id must be
# answered as a missing one (404 SMS.2252), never 403.
ID_ROUTES = {k for k in ROWS if "{" in k[1]}


def sdk_sign(method, path, query, headers, body, ak, sk, signed=None):
    """The SDK-HMAC-SHA256 Authorization value (spec/API.md §2)."""
    enc = lambda s: urllib.parse.quote(urllib.parse.unquote(s), safe="-_.~")
    uri = "/".join(enc(seg) for seg in path.split("/"))
    if not uri.endswith("/"):
        uri += "/"
    params = []
    for kv in filter(None, query.split("&")):
        k, _, v = kv.partition("=")
        params.append((enc(k), enc(v)))
    canonical_query = "&".join(f"{k}={v}" for k, v in sorted(params))
    names = sorted(signed or [h.lower() for h in headers])
    lower = {k.lower(): v for k, v in headers.items()}
    lines = "".join(f"{n}:{lower.get(n, '').strip()}\n" for n in names)
    canonical = (f"{method}\n{uri}\n{canonical_query}\n{lines}\n"
                 f"{';'.join(names)}\n{hashlib.sha256(body).hexdigest()}")
    to_sign = (f"SDK-HMAC-SHA256\n{headers['X-Sdk-Date']}\n"
               f"{hashlib.sha256(canonical.encode()).hexdigest()}")
    sig = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(names)}, "
            f"Signature={sig}")


def sdk_date(offset_s=0):
    t = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y%m%dT%H%M%SZ")


class Tenant:
    """One domain with a user of each role, a source registered by its
    agent, a task on that source and a committed run."""

    def __init__(self, env, name):
        self.env = env
        self.name = name
        self.passwords = {}
        self.tokens = {}
        for role in ROLES + ("agent2",):
            password = f"{name}-{role}-password-1"
            env.admin("create-user", "--domain", name, "--name", role,
                      "--role", "agent" if role == "agent2" else role,
                      stdin=password + "\n")
            self.passwords[role] = password
        ak_sk = env.admin("create-credential", "--domain", name,
                          "--user", "admin").split()
        self.ak, self.sk = ak_sk[0], ak_sk[1]

    def setup(self):
        c = self.env.client
        for role in ROLES + ("agent2",):
            self.tokens[role] = self.fresh_token(role)
        status, src = c.json("POST", "/v3/sources", self.source_body(),
                             self.tokens["agent"])
        assert status == 200, f"register source: {status} {src}"
        self.source = src["id"]
        self.task = self.fresh_task()
        status, out = c.json("POST", f"/v3/tasks/{self.task}/action",
                             {"operation": "consistency_check"},
                             self.tokens["admin"])
        assert status == 200, f"action: {status} {out}"
        self.run = str(uuid.uuid4())
        status, out = c.json("POST", f"/v3/tasks/{self.task}/consistency-"
                             "result", run_body(self.run),
                             self.tokens["agent"])
        assert status == 200, f"upload: {status} {out}"
        self.domain_id = self.env.domain_ids[self.name]
        self.webhook = self.fresh_webhook()

    def webhook_body(self):
        # Port 9 (discard) on loopback: deliveries fail, nothing leaves.
        return {"url": "http://127.0.0.1:9/hook", "events": ["run.finished"]}

    def fresh_webhook(self):
        status, out = self.env.client.json("POST", "/v3/webhooks",
                                           self.webhook_body(),
                                           self.tokens["admin"])
        assert status == 201, f"create webhook: {status} {out}"
        return out["id"]

    def login_body(self, role):
        return {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": role, "password": self.passwords[role],
                     "domain": {"name": self.name}}}},
            "scope": {"domain": {"name": self.name}}}}

    def fresh_token(self, role):
        status, headers, body = self.env.client.request(
            "POST", "/v3/auth/tokens", self.login_body(role))
        assert status == 201, f"login {role}@{self.name}: {status} {body}"
        return headers.get("X-Subject-Token")

    def task_body(self):
        return {"name": f"t-{uuid.uuid4().hex[:8]}", "type": "MIGRATE_FILE",
                "os_type": "LINUX", "source_server": {"id": self.source},
                "target_server": {"name": "t", "ip": "10.0.0.2",
                                  "verify_uri": "file:///mnt/target"},
                "is_need_consistency_check": True}

    def source_body(self):
        return {"name": f"web-{self.name}", "hostname": f"web-{self.name}",
                "ip": "10.0.0.1", "os_type": "LINUX",
                "os_version": "debian12", "agent_version": "test"}

    def fresh_task(self):
        status, out = self.env.client.json("POST", "/v3/tasks",
                                           self.task_body(),
                                           self.tokens["admin"])
        assert status == 200, f"create task: {status} {out}"
        status, cfg = self.env.client.json(
            "POST", f"/v3/tasks/{out['id']}/configuration-setting",
            {"configurations": [{"config_key": "CONSISTENCY_DIR",
                                 "config_value": "/data"}]},
            self.tokens["admin"])
        assert status == 200, f"configure task: {status} {cfg}"
        return out["id"]


class Env:
    def __init__(self, build, work):
        self.binary = os.path.join(build, "bin", "sms-server")
        self.db = os.path.join(work, "sms.db")
        self.domain_ids = {}
        self.server = ServerProcess(
            self.binary, ["--db", f"sqlite:{self.db}", "--console-dir",
                          "none"], os.path.join(work, "server.log"),
            env=dict(os.environ, SMS_PBKDF2_ITERATIONS="1000"))
        self.client = Client(self.server)

    def admin(self, *args, stdin=""):
        out = subprocess.run(
            [self.binary, "admin", "--db", f"sqlite:{self.db}", *args],
            input=stdin, capture_output=True, text=True, check=True,
            env=dict(os.environ, SMS_PBKDF2_ITERATIONS="1000"))
        return out.stdout.strip()

    def signed(self, tenant, method, target, body, extra=None, tamper=None):
        """(status, headers, raw) of an AK/SK request of tenant's admin;
        tamper names the part to spoil."""
        path, _, query = target.partition("?")
        raw = b"" if body is None else json.dumps(body).encode()
        headers = {"Host": f"127.0.0.1:{self.server.port}",
                   "Content-Type": "application/json",
                   "X-Sdk-Date": sdk_date(-1200 if tamper == "date" else 0)}
        headers.update(extra or {})
        signed = [h.lower() for h in headers]
        if tamper == "signed_headers":
            signed = [h for h in signed if h != "x-sdk-date"]
        ak = "ZZZZZZZZZZZZZZZZZZZZ" if tamper == "access_key" else tenant.ak
        auth = sdk_sign(method, path, query, headers, raw, ak, tenant.sk,
                        signed)
        if tamper == "signature":
            auth = auth[:-1] + ("0" if auth[-1] != "0" else "1")
        if tamper == "body":
            raw = raw + b" " if raw else b"{}"
        if tamper == "query":
            target = target + ("&" if "?" in target else "?") + "limit=1"
        headers["Authorization"] = auth
        return self.client_raw(method, target, raw, headers)

    def client_raw(self, method, target, raw, headers):
        import urllib.request
        import urllib.error
        req = urllib.request.Request(self.server.url + target,
                                     data=raw if raw else None,
                                     method=method)
        for k, v in headers.items():
            if k != "Host":
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


def code_of(raw):
    try:
        j = json.loads(raw)
        return j.get("error_code") if isinstance(j, dict) else None
    except ValueError:
        return None


def expect(name, status, raw, want_status, want_code=None):
    ok = status == want_status and (want_code is None or
                                    code_of(raw) == want_code)
    return check(name, ok, f"got {status} {code_of(raw)} want {want_status} "
                 f"{want_code or ''} {raw[:160]!r}")


def allowed(status):
    """An allowed call: answered, not refused for who is calling (the
    request itself may still be refused, e.g. 400 for a state)."""
    return status < 500 and status not in (401, 403, 404)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    work = scratch_dir("sms-matrix-")
    env = Env(build, work)
    env.admin("migrate")
    for name in ("acme", "other"):
        env.domain_ids[name] = env.admin("create-domain", name)
    a, b = Tenant(env, "acme"), Tenant(env, "other")
    env.server.start()
    try:
        a.setup()
        b.setup()
        run_matrix(env, a, b)
    finally:
        env.server.stop()
    return summary_status()


def run_matrix(env, a, b):
    c = env.client
    # Every documented route has a row, and every row a documented route.
    status, spec = c.json("GET", "/openapi.json")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items()
                  for m in ops if m in ("get", "post", "put", "delete",
                                        "patch")}
    for route in sorted(documented - set(ROWS)):
        check(f"route {route[0]} {route[1]} has a row in ROWS", False,
              "add it, saying who may call it")
    for route in sorted(set(ROWS) - documented):
        check(f"row {route[0]} {route[1]} is a documented route", False)

    # Tokens that must not work.
    revoked = a.fresh_token("admin")
    status, _, _ = c.request("DELETE", "/v3/auth/tokens", token=revoked,
                             headers={"X-Subject-Token": revoked})
    assert status == 204, f"revoke: {status}"
    expired = a.fresh_token("admin")
    with sqlite3.connect(env.db, timeout=10) as db:
        db.execute("UPDATE tokens SET expires_at = ? WHERE token_hash = ?",
                   (int(time.time() * 1000) - 1000,
                    hashlib.sha256(expired.encode()).hexdigest()))
    bad_tokens = {"garbage": "x" * 43, "revoked": revoked,
                  "expired": expired}

    for route in sorted(ROWS, key=lambda r: (r[1], r[0])):
        if route not in documented:
            continue
        who, build = ROWS[route]
        method, pattern = route
        label = f"{method} {pattern}"

        def call(token=None, tenant=a, headers=None):
            target, body, extra = build(tenant)
            extra = dict(extra, **(headers or {}))
            return c.request(method, target, body, token, extra)

        if who == SUBJECT:
            check_revocation(env, a, label)
            continue
        if who == PUBLIC:
            status, _, raw = call()
            check(f"{label}: no credentials: served", allowed(status),
                  f"{status} {raw[:120]!r}")
            continue

        status, _, raw = call()
        expect(f"{label}: no credentials: 403 SMS.9001", status, raw, 403,
               "SMS.9001")
        for kind, token in bad_tokens.items():
            status, _, raw = call(token)
            expect(f"{label}: {kind} token: 403 SMS.9002", status, raw, 403,
                   "SMS.9002")
        for role in ROLES:
            status, _, raw = call(a.tokens[role])
            if role in who:
                check(f"{label}: {role}: allowed", allowed(status),
                      f"{status} {raw[:160]!r}")
            else:
                expect(f"{label}: {role}: 403 SMS.9004", status, raw, 403,
                       "SMS.9004")
        if "agent" in who and "{" in pattern:
            # An agent acts only for the source it registered.
            status, _, raw = call(a.tokens["agent2"])
            expect(f"{label}: another agent of the tenant: 403 SMS.9004",
                   status, raw, 403, "SMS.9004")
        if route in ID_ROUTES:
            # A's callers on B's ids: as if missing.
            for role in sorted(who & set(ROLES)):
                target, body, extra = build(b)
                status, _, raw = c.request(method, target, body,
                                           a.tokens[role], extra)
                expect(f"{label}: {role} on another tenant's id: 404 "
                       "SMS.2252", status, raw, 404, "SMS.2252")
        # AK/SK of A's admin: correct, then each part tampered with.
        target, body, extra = build(a)
        status, _, raw = env.signed(a, method, target, body, extra)
        check(f"{label}: AK/SK: allowed", allowed(status),
              f"{status} {raw[:160]!r}")
        for part in ("access_key", "signature", "signed_headers", "date",
                     "query") + (("body",) if body is not None else ()):
            target, body, extra = build(a)
            status, _, raw = env.signed(a, method, target, body, extra,
                                        tamper=part)
            expect(f"{label}: AK/SK, {part} tampered: 403 SMS.9003", status,
                   raw, 403, "SMS.9003")
        target, body, extra = build(a)
        status, _, raw = env.signed(a, method, target, body,
                                    dict(extra, **{"X-Domain-Id":
                                                   b.domain_id}))
        expect(f"{label}: AK/SK with another domain's X-Domain-Id: 403",
               status, raw, 403, "SMS.9003")
        # A token names its domain: an X-Domain-Id of another is refused
        # (as for AK/SK), its own is accepted.
        target, body, extra = build(b)
        status, _, raw = c.request(method, target, body, a.tokens["admin"],
                                   dict(extra, **{"X-Domain-Id":
                                                  b.domain_id}))
        expect(f"{label}: token + another domain's X-Domain-Id: 403 "
               "SMS.9002", status, raw, 403, "SMS.9002")
        target, body, extra = build(a)
        status, _, raw = c.request(method, target, body, a.tokens["admin"],
                                   dict(extra, **{"X-Domain-Id":
                                                  a.domain_id}))
        check(f"{label}: token + its own X-Domain-Id: allowed",
              allowed(status), f"{status} {raw[:160]!r}")

    # Lists show only the caller's tenant.
    for path, ids in (("/v3/tasks", (b.task,)), ("/v3/sources", (b.source,))):
        status, _, raw = c.request("GET", path, token=a.tokens["admin"])
        check(f"GET {path}: none of another tenant's records",
              status == 200 and not any(i.encode() in raw for i in ids),
              f"{status}")
    # An export naming another tenant's task answers as for a missing one.
    answers = []
    for task in (b.task, str(uuid.uuid4())):
        status, _, raw = c.request(
            "POST", "/v3/tasks/consistency-results/export",
            {"task_info": [{"task_id": task}]}, a.tokens["admin"],
            {"Accept": "application/json"})
        answers.append((status, raw.replace(task.encode(), b"ID")))
    check("export of another tenant's task: as for a missing task",
          answers[0] == answers[1], f"{answers}")


def check_revocation(env, a, label):
    """DELETE /v3/auth/tokens: the X-Subject-Token is revoked, and a token
    that is not one (missing, garbage, already revoked) is refused."""
    c = env.client
    for role in ROLES:
        subject = a.fresh_token(role)
        status, _, raw = c.request("DELETE", "/v3/auth/tokens",
                                   headers={"X-Subject-Token": subject})
        check(f"{label}: {role}'s own token: revoked (204)", status == 204,
              f"{status} {raw[:160]!r}")
        status, _, raw = c.request("GET", "/v3/tasks", token=subject)
        expect(f"{label}: {role}'s revoked token no longer works", status,
               raw, 403, "SMS.9002")
        status, _, raw = c.request("DELETE", "/v3/auth/tokens",
                                   headers={"X-Subject-Token": subject})
        check(f"{label}: {role}'s token revoked twice: refused",
              status in (403, 404), f"{status} {raw[:160]!r}")
    status, _, raw = c.request("DELETE", "/v3/auth/tokens")
    check(f"{label}: no X-Subject-Token: refused", status in (400, 403),
          f"{status} {raw[:160]!r}")
    status, _, raw = c.request("DELETE", "/v3/auth/tokens",
                               headers={"X-Subject-Token": "x" * 43})
    check(f"{label}: garbage X-Subject-Token: refused", status in (403, 404),
          f"{status} {raw[:160]!r}")


if __name__ == "__main__":
    sys.exit(main())
