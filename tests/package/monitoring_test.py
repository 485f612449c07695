#!/usr/bin/env python3
"""packaging/prometheus-alerts.yml and packaging/grafana-dashboard.json
against Prometheus' own checker and a real sms-server (issue 16, item 5).

usage: monitoring_test.py BUILD_DIR
  rules      `promtool check rules` accepts the alert rules
  rule tests `promtool test rules` (alerts_test.yml): the alerts fire on the
             series they are written for, and stay quiet otherwise
  dashboard  every panel query parses (promtool check rules on the queries,
             with the dashboard's variables filled in)
  metrics    every metric the rules and the dashboard name is in the /metrics
             of a real sms-server on loopback, and every route they select
             (route="..." or route=~"...") is one the server reports
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RULES = os.path.join(REPO, "packaging", "prometheus-alerts.yml")
DASHBOARD = os.path.join(REPO, "packaging", "grafana-dashboard.json")
RULE_TESTS = os.path.join(HERE, "alerts_test.yml")
SERVER_BIN = os.path.join(BUILD, "bin", "sms-server")

sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from harness import (Client, ServerProcess, check, failed,  # noqa: E402
                     print_summary)

# Series Prometheus makes itself, not the server.
BUILTIN = {"up"}


def promtool(*args):
    return subprocess.run(["promtool", *args], capture_output=True, text=True,
                          timeout=120)


def rule_exprs():
    """The expr of every rule, by a plain reading of the YAML file (no YAML
    library in the standard library): `expr: X` or `expr: |` + indented."""
    exprs, lines = [], open(RULES).read().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)expr:\s*(.*)$", lines[i])
        if m and not lines[i].lstrip().startswith("#"):
            if m.group(2).strip() == "|":
                body = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or
                                          len(lines[i]) - len(lines[i].lstrip())
                                          > len(m.group(1))):
                    body.append(lines[i].strip())
                    i += 1
                exprs.append(" ".join(body))
                continue
            exprs.append(m.group(2))
        i += 1
    return exprs


def dashboard_exprs():
    d = json.load(open(DASHBOARD))
    out = []
    for p in d["panels"]:
        for t in p.get("targets", []):
            out.append(t["expr"])
    return out


def metric_names(expr):
    # Words followed by `{`, `[`, `)` or the end: series names, not the
    # functions (followed by `(`) nor label names (followed by `=`).
    names = set()
    bare = re.sub(r'"[^"]*"', '""', expr)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*"
                  r"\([^)]*\)", " ", bare)
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*(?=\{|\[|\)|$)",
                         bare):
        word = m.group(1)
        if word in ("by", "without", "on", "ignoring", "group_left",
                    "group_right", "offset", "bool", "and", "or", "unless",
                    "vector", "le"):
            continue
        names.add(word)
    return names


def route_selectors(expr):
    """(op, value) of every route matcher, PromQL string escapes undone."""
    return [(op, v.replace("\\\\", "\\"))
            for op, v in re.findall(r'route\s*(=~|=)\s*"([^"]*)"', expr)]


def main():
    if shutil.which("promtool") is None:
        print("FAIL promtool is missing: scripts/bootstrap.sh installs Debian's "
              "prometheus package")
        print_summary()
        return 1
    tmp = tempfile.mkdtemp(prefix="sms-monitoring.")
    r = promtool("check", "rules", RULES)
    check("rules: promtool check rules", r.returncode == 0, r.stdout + r.stderr)
    r = promtool("test", "rules", RULE_TESTS)
    check("rule tests: promtool test rules (alerts fire when they should)",
          r.returncode == 0, (r.stdout + r.stderr)[-3000:])

    dexprs = dashboard_exprs()
    filled = [e.replace("$job", ".*").replace("$instance", ".*")
              for e in dexprs]
    with open(f"{tmp}/dashboard-rules.yml", "w") as f:
        f.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, e in enumerate(filled):
            f.write(f"      - record: dashboard:query{i}\n"
                    f"        expr: {json.dumps(e)}\n")
    r = promtool("check", "rules", f"{tmp}/dashboard-rules.yml")
    check(f"dashboard: the {len(dexprs)} panel queries parse",
          r.returncode == 0 and len(dexprs) >= 10, r.stdout + r.stderr)

    db = f"sqlite:{tmp}/sms.db"
    server = ServerProcess(SERVER_BIN, ["--db", db], f"{tmp}/server.log")
    server.start()
    try:
        client = Client(server)
        # Requests on the routes the rules select, so /metrics reports them
        # (unauthenticated: 401 is counted under the matched route).
        for path in ("/readyz", "/v3/sources/x/command",
                     "/v3/tasks/x/consistency-result",
                     "/v3/tasks/x/consistency-result/details"):
            client.request("GET", path)
        client.request("POST", "/v3/tasks/x/consistency-result", {})
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as m:
            text = m.read().decode()
    finally:
        server.stop()
    exported = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", text,
                              re.M))
    routes = set(re.findall(r'route="([^"]*)"', text))

    for source, exprs in (("rules", rule_exprs()), ("dashboard", dexprs)):
        used = set()
        for e in exprs:
            used |= metric_names(e)
        missing = sorted(used - exported - BUILTIN)
        check(f"metrics: the {len(used)} metrics of the {source} are in "
              f"/metrics ({', '.join(sorted(used))})", not missing and used,
              f"missing: {missing}")
        for op, value in sorted({s for e in exprs
                                 for s in route_selectors(e)}):
            ok = (value in routes if op == "=" else
                  any(re.fullmatch(value, r) for r in routes))
            check(f"metrics: {source} route{op}\"{value}\" selects a route "
                  "the server reports", ok, sorted(routes))
    print_summary()
    if failed():
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
