#!/usr/bin/env bash
# The server load benchmark (bench_server.sh) on PostgreSQL: starts a
# throw-away PostgreSQL 15 cluster (tests/support/pg.sh), runs the same
# scenarios against sms-server on it, and removes the cluster. Prints the
# same Markdown table as bench_server.sh, so the two sit side by side, plus
# the GET load split over two replicas on the same database and the
# uploads through both (one task; 16 tasks) beside their goal (issue 14.3).
# SMS_BENCH_ONLY=uploads: the upload rows only.
# SMS_BENCH_PG_STATEMENTS=1: also counts, with pg_stat_statements (the
# cluster restarts once to load it), the statements, COMMITs and
# PostgreSQL execution time and WAL bytes (statements' own, without the
# COMMIT records) per committed run over the whole benchmark,
# and the statements that took the most execution + planning time, each
# with its calls and times per run (track_planning): the counts do not
# depend on the machine's load, for A/B comparisons on a shared machine;
# then the tables most read by sequential scans (a statement that should
# look rows up by key but reads a table whole shows there).
# Usage: src/server/bench_server_pg.sh [BUILD_DIR] [SECONDS]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STATE=$(mktemp -d)
# On every way out (bash runs the EXIT trap on INT/TERM too); SIGKILL: the
# cluster's watchdog (SMS_PG_OWNER_PID below) destroys it.
cleanup() { bash "$REPO/tests/support/pg.sh" destroy "$STATE" || true; rm -rf "$STATE"; }
trap cleanup EXIT

# fsync on: an acknowledged POST is durable, as on SQLite.
# SMS_BENCH_PG_FSYNC=off: not durable, only to show what the disk's fsync
# costs (label such figures so).
FSYNC=${SMS_BENCH_PG_FSYNC:-on}
SMS_PG_OWNER_PID=$$ SMS_PG_FSYNC=$FSYNC bash "$REPO/tests/support/pg.sh" start "$STATE" >/dev/null
echo "sms-server on PostgreSQL 15 (throw-away cluster on loopback, fsync $FSYNC)"
# What the disk allows one committer: PostgreSQL's fsync, alone.
TEST_FSYNC=$(ls /usr/lib/postgresql/15/bin/pg_test_fsync \
  /usr/lib/postgresql/*/bin/pg_test_fsync 2>/dev/null | head -1)
if [[ -n "$TEST_FSYNC" ]]; then
  echo "this disk: $("$TEST_FSYNC" -s 2 -f "$STATE/fsync.test" 2>/dev/null |
    awk '$1=="fdatasync"{print $2; exit}') fdatasyncs/s of one 8 kB write (pg_test_fsync)"
  rm -f "$STATE/fsync.test"
fi
if [[ "${SMS_BENCH_PG_STATEMENTS:-0}" == 1 ]]; then
  printf "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track_planning = on\n" \
    >>"$(cat "$STATE/cluster")/data/postgresql.conf"
  bash "$REPO/tests/support/pg.sh" restart "$STATE"
  psql -q "$(cat "$STATE/dsn")" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
fi
# Its postmaster: bench_server.sh counts its (and its backends') CPU.
PG_PID=$(head -1 "$(cat "$STATE/cluster")/data/postmaster.pid")
# The URI form over loopback TCP, as replicas would connect.
SMS_BENCH_DB=$(cat "$STATE/url") SMS_BENCH_REPLICAS=2 SMS_BENCH_PG_PID=$PG_PID \
  bash "$HERE/bench_server.sh" "$@"
if [[ "${SMS_BENCH_PG_STATEMENTS:-0}" == 1 ]]; then
  # Read before the report's own count(*) of `runs` below, which reads
  # the table whole (it was most of the `runs` line: 2 scans of every run);
  # after a second, for the servers' backends to exit and report theirs.
  sleep 1
  SEQ_SCANS=$(psql -q -X -A -t "$(cat "$STATE/dsn")" -f "$REPO/tests/support/pg_seq_scans.sql")
  psql -q -X -A -t "$(cat "$STATE/dsn")" <<'EOF'
SELECT 'per committed run (' || r.n || ' runs): statements ' ||
       round(s.calls / r.n, 2) || ', COMMITs ' || round(c.calls / r.n, 3) ||
       ', PostgreSQL execution ms ' || round((s.ms / r.n)::numeric, 3) ||
       ', WAL bytes ' || round(s.wal / r.n)
FROM (SELECT count(*)::numeric AS n FROM runs) r,
     (SELECT sum(calls) AS calls, sum(total_exec_time) AS ms,
             sum(wal_bytes) AS wal
      FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%') s,
     (SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements
      WHERE upper(query) = 'COMMIT') c;
SELECT round(calls / r.n, 3) || ' per run, ms per run: execution ' ||
       round((total_exec_time / r.n)::numeric, 3) || ', planning ' ||
       round((total_plan_time / r.n)::numeric, 3) || ': ' ||
       left(regexp_replace(query, '\s+', ' ', 'g'), 100)
FROM pg_stat_statements, (SELECT count(*)::numeric AS n FROM runs) r
WHERE query NOT ILIKE '%pg_stat_statements%'
ORDER BY total_exec_time + total_plan_time DESC LIMIT 12;
EOF
  echo "$SEQ_SCANS"
fi
