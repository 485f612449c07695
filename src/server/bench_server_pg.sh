#!/usr/bin/env bash
# The server load benchmark (bench_server.sh) on PostgreSQL: starts a
# throw-away PostgreSQL 15 cluster (tests/support/pg.sh), runs the same
# scenarios against sms-server on it, and removes the cluster. Prints the
# same Markdown table as bench_server.sh, so the two sit side by side, plus
# the GET load split over two replicas on the same database and the
# uploads through both (one task; 16 tasks) beside their goal (issue 14.3).
# SMS_BENCH_ONLY=uploads: the upload rows only.
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
# Its postmaster: bench_server.sh counts its (and its backends') CPU.
PG_PID=$(head -1 "$(cat "$STATE/cluster")/data/postmaster.pid")
# The URI form over loopback TCP, as replicas would connect.
SMS_BENCH_DB=$(cat "$STATE/url") SMS_BENCH_REPLICAS=2 SMS_BENCH_PG_PID=$PG_PID \
  bash "$HERE/bench_server.sh" "$@"
