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
             of a real sms-server on loopback, with every label they select
             or group by, every route they select (route="..." or
             route=~"...") and every other label value they select; the
             server has a source that polled and tasks with runs (the World
             of tests/reliability/reliability.py), so the per-source and
             per-task series exist, and their values are checked
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid

BUILD = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RULES = os.path.join(REPO, "packaging", "prometheus-alerts.yml")
DASHBOARD = os.path.join(REPO, "packaging", "grafana-dashboard.json")
RULE_TESTS = os.path.join(HERE, "alerts_test.yml")

sys.path.insert(0, os.path.join(REPO, "tests", "support"))
sys.path.insert(0, os.path.join(REPO, "tests", "reliability"))
from harness import (check, Client, print_summary,  # noqa: E402
                     scratch_dir, summary_status)
from reliability import World, run_body  # noqa: E402

# Series Prometheus makes itself, not the server.
BUILTIN = {"up"}
# Labels Prometheus adds to every series it scrapes.
TARGET_LABELS = {"job", "instance"}


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


def label_names(expr):
    """Labels the expression selects on or groups by (not `le`, which
    histogram_quantile takes from the buckets)."""
    names = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"',
                           expr))
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)",
                            expr):
        names |= {n.strip() for n in group.split(",") if n.strip()}
    return names - {"le"}


def value_selectors(expr):
    """(label, op, value) of every matcher on a label other than the
    target's, route (checked apart) and status."""
    return [(k, op, v) for k, op, v in
            re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|=)\s*"([^"]*)"', expr)
            if k not in TARGET_LABELS | {"route", "status"}]


def sample(text, name, **labels):
    """The value of the series `name` whose labels include `labels`."""
    for m in re.finditer(r"^" + re.escape(name) + r"\{([^}]*)\} (\S+)$", text,
                         re.M):
        have = dict(re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"',
                               m.group(1)))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(2))
    return None


def populate(world):
    """A source whose agent polled, three tasks with runs: one inconsistent
    twice, one failed once, one consistent. Returns (inconsistent task,
    failed task)."""
    status, _ = world.agent.json("GET", f"/v3/sources/{world.source}/command")
    check("setup: the agent polls", status in (200, 204), status)
    bad, failing = world.task("differs"), world.task("cannot check")
    same = run_body(str(uuid.uuid4()), dirs=1)
    for key in ("num_different_files", "num_target_miss_files",
                "num_target_more_files"):
        same["consistency_result"][0][key] = 0
    for task, body in ((bad, run_body(str(uuid.uuid4()))),
                       (bad, run_body(str(uuid.uuid4()))),
                       (failing, dict(run_body(str(uuid.uuid4())),
                                      check_result="failed",
                                      error_msg="target unreachable")),
                       (world.task("matches"), same)):
        status, out = world.agent.json(
            "POST", f"/v3/tasks/{task}/consistency-result", body)
        check(f"setup: run uploaded to {task}", status == 200, f"{status} {out}")
    return bad, failing


def main():
    if shutil.which("promtool") is None:
        print("FAIL promtool is missing: scripts/bootstrap.sh installs Debian's "
              "prometheus package")
        print_summary()
        return 1
    tmp = scratch_dir("sms-monitoring.")
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

    world = World(BUILD, tmp, "monitoring")
    try:
        bad, failing = populate(world)
        client = Client(world.server)
        # Requests on the routes the rules select, so /metrics reports them
        # (unauthenticated: 401 is counted under the matched route).
        for path in ("/readyz", "/v3/sources/x/command",
                     "/v3/tasks/x/consistency-result",
                     "/v3/tasks/x/consistency-result/details"):
            client.request("GET", path)
        for path in ("/v3/tasks/x/consistency-result",
                     "/v3/tasks/x/consistency-result/details"):
            client.request("POST", path, {})
        with urllib.request.urlopen(world.server.url + "/metrics",
                                    timeout=10) as m:
            text = m.read().decode()
    finally:
        world.server.stop()
    exported = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", text,
                              re.M))
    routes = set(re.findall(r'route="([^"]*)"', text))
    labels = set(re.findall(r'[{,]([a-zA-Z_][a-zA-Z0-9_]*)="', text))

    # The per-source and per-task series say what happened.
    polled = sample(text, "sms_source_last_poll_timestamp_seconds",
                    source_id=world.source, source="web01")
    check("metrics: the source's last poll is the poll just made",
          polled is not None and abs(polled - time.time()) < 120, polled)
    check("metrics: the source has its 3 tasks",
          sample(text, "sms_source_tasks", source_id=world.source) == 3,
          sample(text, "sms_source_tasks", source_id=world.source))
    streak = sample(text, "sms_task_consecutive_runs", task_id=bad,
                    task="differs", verdict="inconsistent")
    check("metrics: the task that differs is inconsistent 2 runs in a row",
          streak == 2, streak)
    streak = sample(text, "sms_task_consecutive_runs", task_id=failing,
                    verdict="failed")
    check("metrics: the task that cannot check failed 1 run", streak == 1,
          streak)
    check("metrics: the database is up", "\nsms_database_up 1\n" in text,
          text[:400])

    for source, exprs in (("rules", rule_exprs()), ("dashboard", dexprs)):
        used = set()
        for e in exprs:
            used |= metric_names(e)
        missing = sorted(used - exported - BUILTIN)
        check(f"metrics: the {len(used)} metrics of the {source} are in "
              f"/metrics ({', '.join(sorted(used))})", not missing and used,
              f"missing: {missing}")
        used_labels = set()
        for e in exprs:
            used_labels |= label_names(e)
        missing = sorted(used_labels - labels - TARGET_LABELS)
        check(f"metrics: the {len(used_labels)} labels the {source} select "
              f"or group by are in /metrics ({', '.join(sorted(used_labels))})",
              not missing, f"missing: {missing}")
        for op, value in sorted({s for e in exprs
                                 for s in route_selectors(e)}):
            ok = (value in routes if op == "=" else
                  any(re.fullmatch(value, r) for r in routes))
            check(f"metrics: {source} route{op}\"{value}\" selects a route "
                  "the server reports", ok, sorted(routes))
        for label, op, value in sorted({s for e in exprs
                                        for s in value_selectors(e)}):
            values = set(re.findall(label + r'="([^"]*)"', text))
            ok = (value in values if op == "=" else
                  any(re.fullmatch(value, v) for v in values))
            check(f"metrics: {source} {label}{op}\"{value}\" selects a "
                  "series the server exports", ok, sorted(values)[:20])
    return summary_status()


if __name__ == "__main__":
    sys.exit(main())
