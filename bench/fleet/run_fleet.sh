#!/usr/bin/env bash
# The fleet simulation (issue 14.1): N agents (bench/fleet/fleet.cc) against
#   sqlite  one sms-server on SQLite
#   pg2     two sms-server replicas over one PostgreSQL 15 (throw-away
#           cluster of tests/support/pg.sh, fsync on)
# all on this machine, loopback only. Prints one Markdown row per setup with
# polls/s held, p50/p99 of polls and uploads, commands delivered exactly
# once (every triggered check reaches its agent once, none lost), database
# connections and the CPU of each process; the raw JSON goes to
# $SMS_FLEET_OUT (default var/fleet/<UTC time>).
#
# Usage: bench/fleet/run_fleet.sh [BUILD_DIR] [AGENTS] [SECONDS] [SETUPS...]
#   e.g. bench/fleet/run_fleet.sh build 10000 60 sqlite pg2
# Environment: SMS_FLEET_INTERVAL (5 s), SMS_FLEET_TRIGGER_RATE (5 per s),
# SMS_FLEET_FILES (100 details per upload), SMS_FLEET_DIRS (30),
# SMS_FLEET_SERVER (the sms-server binary; default BUILD_DIR/bin/sms-server,
# another one for an A/B run of the same load).
# SMS_FLEET_PG_STATEMENTS=1: pg2 also counts, with pg_stat_statements (the
# cluster restarts once to load it), the statements PostgreSQL ran after the
# agents were set up (window and drain: polls, uploads, triggers) per poll
# answered, and the ones that took the most execution + planning time, each
# per poll: the counts do not depend on the machine's load, for A/B
# comparisons on a shared machine; then the tables most read by sequential
# scans over the whole run (a statement that should look rows up by key
# but reads a table whole shows there).
# CPU is measured over the run window (not the set-up) by sms-fleet itself
# from /proc, for the generator, each server and PostgreSQL (the postmaster
# and its backends), in % of one core; the load average at the start and end
# of the window is printed beside it. The processes' ids are written to
# $OUT/<setup>.pids (for perf record -p).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${1:-build}
AGENTS=${2:-1000}
SECS=${3:-30}
shift $(($# < 3 ? $# : 3))
SETUPS=("$@")
((${#SETUPS[@]})) || SETUPS=(sqlite pg2)
SERVER=${SMS_FLEET_SERVER:-$BUILD_DIR/bin/sms-server}
FLEET="$BUILD_DIR/bin/sms-fleet"
for b in "$SERVER" "$FLEET"; do
  [[ -x "$b" ]] || { echo "no $b: build first (make build)" >&2; exit 2; }
done
INTERVAL=${SMS_FLEET_INTERVAL:-5}
OUT=${SMS_FLEET_OUT:-$REPO/var/fleet/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"

# One socket per agent on the client, as many on the servers.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d)
PIDS=()
PG_STATE=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -z "$PG_STATE" ]] || bash "$REPO/tests/support/pg.sh" destroy "$PG_STATE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
# On every way out (bash runs the EXIT trap on INT/TERM too); SIGKILL: the
# cluster's watchdog (SMS_PG_OWNER_PID) destroys it.
trap cleanup EXIT

start_server() {  # db log [args] -> sets PORT and SPID (no subshell: the
                  # EXIT trap must not run in one)
  local db=$1 log=$2 extra=${3:-}
  # shellcheck disable=SC2086
  "$SERVER" serve --listen 127.0.0.1:0 --db "$db" $extra 2>"$log" &
  PIDS+=($!)
  local port=""
  for _ in $(seq 200); do
    port=$(grep -o '"address":"127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  [[ -n "$port" ]] || { echo "server did not start: $(tail -3 "$log")" >&2; exit 2; }
  PORT=$port
  SPID=${PIDS[-1]}
}

credentials() {  # db extra -> exports SMS_FLEET_* for a new domain
  local db=$1 extra=${2:-}
  # shellcheck disable=SC2086
  "$SERVER" admin --db "$db" $extra create-domain fleet >/dev/null
  "$SERVER" admin --db "$db" $extra create-user --domain fleet --name op \
    --role operator </dev/null >/dev/null
  "$SERVER" admin --db "$db" $extra create-user --domain fleet --name agent \
    --role agent </dev/null >/dev/null
  read -r SMS_FLEET_OP_AK SMS_FLEET_OP_SK < <("$SERVER" admin --db "$db" $extra \
    create-credential --domain fleet --user op)
  read -r SMS_FLEET_AGENT_AK SMS_FLEET_AGENT_SK < <("$SERVER" admin --db "$db" \
    $extra create-credential --domain fleet --user agent)
  export SMS_FLEET_OP_AK SMS_FLEET_OP_SK SMS_FLEET_AGENT_AK SMS_FLEET_AGENT_SK
}

run_fleet() {  # setup-name [--watch NAME=PIDS]... server-urls... -> $OUT/<setup>.json
  local name=$1
  shift
  local args=()
  while [[ "${1:-}" == --watch ]]; do args+=(--watch "$2"); shift 2; done
  for u in "$@"; do args+=(--server "$u"); done
  # Run in the background (`run_fleet ... &`) and exec'd, so that its pid
  # is sms-fleet's: the EXIT trap stops it with the servers (a subshell
  # left waiting for it would not pass on the signal).
  exec "$FLEET" "${args[@]}" --agents "$AGENTS" --interval "$INTERVAL" \
    --duration "$SECS" --trigger-rate "${SMS_FLEET_TRIGGER_RATE:-5}" \
    --files "${SMS_FLEET_FILES:-100}" --dirs "${SMS_FLEET_DIRS:-30}" \
    >"$OUT/$name.json" 2>"$OUT/$name.stderr"
}

# What PostgreSQL ran per poll sent (pg_stat_statements, whole run).
pg_statements() {  # json
  local polls
  polls=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["latency"]["poll"]["n"] or 1)' "$1" 2>/dev/null || echo 1)
  psql -q -X -A -t "$(cat "$PG_STATE/dsn")" -v polls="$polls" <<'EOF'
SELECT 'per poll (' || :polls || ' polls): statements ' ||
       round(sum(calls) / :polls, 3) || ', execution us ' ||
       round((sum(total_exec_time) * 1000 / :polls)::numeric, 1) ||
       ', planning us ' || round((sum(total_plan_time) * 1000 / :polls)::numeric, 1)
FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%';
SELECT round(calls::numeric / :polls, 4) || ' per poll, us per poll: execution ' ||
       round((total_exec_time * 1000 / :polls)::numeric, 1) || ', planning ' ||
       round((total_plan_time * 1000 / :polls)::numeric, 1) || ', rows ' ||
       round(rows::numeric / :polls, 3) || ': ' ||
       left(regexp_replace(query, '\s+', ' ', 'g'), 110)
FROM pg_stat_statements
WHERE query NOT ILIKE '%pg_stat_statements%'
ORDER BY total_exec_time + total_plan_time DESC LIMIT 12;
EOF
  psql -q -X -A -t "$(cat "$PG_STATE/dsn")" -f "$REPO/tests/support/pg_seq_scans.sql"
}

ROWS=()
row() {  # name json conns
  ROWS+=("$(python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
name, path, conns = sys.argv[1:]
try:
    r = json.load(open(path))
except Exception as e:
    print(f"| {name} | no result ({e}) |"); sys.exit()
lat = r["latency"]
def p(kind, q):
    return f'{lat[kind][q]:.1f}' if kind in lat else "-"
exact = "yes" if r["lost"] == 0 and r["doubled"] == 0 and r["not_uploaded"] == 0 else "NO"
bad = sum(v for k, v in r["statuses"].items() if int(k) >= 500)
cpu_pct = r.get("cpu_pct", {})
cpu = ", ".join(f"{k} {v:.0f}%" for k, v in cpu_pct.items())
load = f'{r.get("loadavg_start", "?")} -> {r.get("loadavg_end", "?")}'
# CPU of the servers and the database per poll held in the window
# (uploads and triggers included: polls are nearly all of the requests)
srv = sum(v for k, v in cpu_pct.items() if k != "sms-fleet")
per_req = f'{srv / 100 / r["polls_per_s"] * 1e6:.0f} µs' if r["polls_per_s"] else "-"
print(f'| {name} | {r["agents_ready"]}/{r["agents"]} | {r["polls_per_s"]:.0f} of '
      f'{r["polls_expected_per_s"]:.0f} | {p("poll","p50_ms")} / {p("poll","p99_ms")} | '
      f'{p("upload_total","p50_ms")} / {p("upload_total","p99_ms")} | '
      f'{r["triggered"]} / {r["delivered_once"]} / {r["lost"]} / {r["doubled"]} | '
      f'{exact} | {bad} / {r["transport_errors"]} | {conns} | {cpu} | {per_req} | {load} |')
EOF
)")
}

for setup in "${SETUPS[@]}"; do
  case "$setup" in
    sqlite)
      DB="sqlite:$WORK/sqlite/sms.db"
      mkdir -p "$WORK/sqlite"
      credentials "$DB"
      start_server "$DB" "$WORK/sqlite/server.log"
      echo "server=$SPID" >"$OUT/sqlite.pids"
      run_fleet sqlite --watch "server=$SPID" "http://127.0.0.1:$PORT" &
      PIDS+=($!)
      wait $! || true
      row "1 server, SQLite" "$OUT/sqlite.json" "-"
      kill "$SPID" 2>/dev/null || true
      ;;
    pg2)
      PG_STATE="$WORK/pg"
      SMS_PG_OWNER_PID=$$ SMS_PG_FSYNC=on bash "$REPO/tests/support/pg.sh" start "$PG_STATE" >/dev/null
      if [[ "${SMS_FLEET_PG_STATEMENTS:-0}" == 1 ]]; then
        printf "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track_planning = on\n" \
          >>"$(cat "$PG_STATE/cluster")/data/postgresql.conf"
        bash "$REPO/tests/support/pg.sh" restart "$PG_STATE" >/dev/null
        psql -q "$(cat "$PG_STATE/dsn")" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
      fi
      DB=$(cat "$PG_STATE/url")
      head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/secret"
      chmod 600 "$WORK/secret"
      KEY="--secret-key-file $WORK/secret"
      credentials "$DB" "$KEY"
      start_server "$DB" "$WORK/pg1.log" "$KEY"
      P1=$PORT S1=$SPID
      start_server "$DB" "$WORK/pg2.log" "$KEY"
      P2=$PORT S2=$SPID
      PGPIDS=-$(head -1 "$(cat "$PG_STATE/cluster")/data/postmaster.pid")
      printf 'replica1=%s\nreplica2=%s\npostgres=%s\n' "$S1" "$S2" "$PGPIDS" >"$OUT/pg2.pids"
      run_fleet pg2 --watch "replica1=$S1" --watch "replica2=$S2" \
        --watch "postgres=$PGPIDS" "http://127.0.0.1:$P1" "http://127.0.0.1:$P2" &
      FPID=$!
      PIDS+=($FPID)
      CONNS=0
      RESET=0
      while kill -0 "$FPID" 2>/dev/null; do
        # The statements of the set-up (10,000 registrations) are not counted.
        if [[ "${SMS_FLEET_PG_STATEMENTS:-0}" == 1 && $RESET == 0 ]] &&
          grep -q "set up in" "$OUT/pg2.stderr" 2>/dev/null; then
          psql -q -X "$DB" -c "SELECT pg_stat_statements_reset()" >/dev/null && RESET=1
        fi
        n=$(psql "$DB" -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = 'sms'" 2>/dev/null || echo 0)
        ((n > CONNS)) && CONNS=$n
        sleep 2
      done
      row "2 replicas, PostgreSQL" "$OUT/pg2.json" "$CONNS"
      [[ "${SMS_FLEET_PG_STATEMENTS:-0}" == 1 ]] && pg_statements "$OUT/pg2.json" >"$OUT/pg2.statements"
      # Each replica's read cache over the whole run, set-up included: what
      # the agents' polls and uploads read from memory, and why the others
      # went to the database (writes heard, listener lost, fence older than
      # max_lag). After the statement report: /metrics reads the sources
      # and tasks tables whole.
      for rp in "replica1 $P1" "replica2 $P2"; do
        read -r rname rport <<<"$rp"
        curl -s "http://127.0.0.1:$rport/metrics" | python3 -c '
import re, sys
name = sys.argv[1]
m = {}
for line in sys.stdin:
    k = re.match(r"sms_read_cache_requests_total\{table=\"(\w+)\",result=\"(\w+)\"\} (\d+)", line)
    if k: m[(k.group(1), k.group(2))] = int(k.group(3))
    for c in ("changes_heard", "listener_losses", "lagging_reads"):
        if line.startswith("sms_read_cache_%s_total " % c): m[c] = int(line.split()[1])
tables = ", ".join("%s %d hits / %d misses" % (t, m.get((t, "hit"), 0), m.get((t, "miss"), 0))
                   for t in ("source_owners", "idle_sources", "task_sources", "identity"))
print("%s read cache: %s; writes heard %d, listener losses %d, lagging reads %d"
      % (name, tables, m.get("changes_heard", 0), m.get("listener_losses", 0), m.get("lagging_reads", 0)))
' "$rname" >>"$OUT/pg2.cache" || true
      done
      kill "$S1" "$S2" 2>/dev/null || true
      ;;
    *) echo "unknown setup $setup (sqlite | pg2)" >&2; exit 2 ;;
  esac
done

echo
echo "sms-fleet: $AGENTS agents polling every ${INTERVAL} s for ${SECS} s (+ drain), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| setup | agents up | polls/s held | poll p50 / p99 ms | upload p50 / p99 ms | checks triggered / delivered once / lost / doubled | exact | 5xx / transport errors | max DB conns | CPU in the window (% of a core) | servers+DB CPU per poll | load average start -> end |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do echo "$r"; done
echo
# The goal of issue 14.1, per setup: 10,000 agents polling every 5 s
# (2,000 polls/s), every poll the agents sent held (within 2 %), p99 under
# 50 ms, every triggered check delivered exactly once. A smaller or slower
# fleet is reported at its own load, not as the goal.
for setup in "${SETUPS[@]}"; do
  python3 - "$setup" "$OUT/$setup.json" <<'EOF'
import json, sys
setup, path = sys.argv[1:]
def goal_line(verdict, r):
    if r["polls_expected_per_s"] < 0.98 * 2000:
        return (f"goal, {setup}: not measured (the goal is 2,000 polls/s, 10,000 agents "
                f"at 5 s; this run asked {r['polls_expected_per_s']:.0f}/s); at this load "
                f"{verdict}")
    return f"goal, {setup}: {verdict}"
try:
    r = json.load(open(path))
except Exception as e:
    print(f"goal, {setup}: no result ({e})"); sys.exit()
p99 = r["latency"].get("poll", {}).get("p99_ms", float("inf"))
held = r["polls_per_s"] >= 0.98 * r["polls_expected_per_s"]
exact = r["lost"] == 0 and r["doubled"] == 0 and r["not_uploaded"] == 0
ok = held and p99 < 50 and exact
print(goal_line(f'{"met" if ok else "NOT met"} ({r["polls_per_s"]:.0f} of '
                f'{r["polls_expected_per_s"]:.0f} polls/s, p99 {p99:.1f} ms < 50, '
                f'exactly once: {"yes" if exact else "no"})', r))
EOF
done
[[ -s "$OUT/pg2.cache" ]] && cat "$OUT/pg2.cache"
if [[ -s "$OUT/pg2.statements" ]]; then
  echo "PostgreSQL statements over the pg2 run (pg_stat_statements):"
  cat "$OUT/pg2.statements"
fi
echo "raw: $OUT"
# Exit 1 unless every setup delivered every triggered check exactly once.
for setup in "${SETUPS[@]}"; do
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r['lost']==0 and r['doubled']==0 and r['not_uploaded']==0 and r['agents_ready']==r['agents'] and r['triggered']>0 else 1)" \
    "$OUT/$setup.json" || exit 1
done
