#!/usr/bin/env bash
# The server load benchmark (bench_server.sh) on PostgreSQL: starts a
# throw-away PostgreSQL 15 cluster (tests/support/pg.sh), runs the same
# scenarios against sms-server on it, and removes the cluster. Prints the
# same Markdown table as bench_server.sh, so the two sit side by side, plus
# the GET load split over two replicas on the same database.
# Usage: src/server/bench_server_pg.sh [BUILD_DIR] [SECONDS]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STATE=$(mktemp -d)
cleanup() { bash "$REPO/tests/support/pg.sh" destroy "$STATE" || true; }
trap cleanup EXIT

# fsync on: an acknowledged POST is durable, as on SQLite.
SMS_PG_FSYNC=on bash "$REPO/tests/support/pg.sh" start "$STATE" >/dev/null
echo "sms-server on PostgreSQL 15 (throw-away cluster on loopback, fsync on)"
# The URI form over loopback TCP, as replicas would connect.
SMS_BENCH_DB=$(cat "$STATE/url") SMS_BENCH_REPLICAS=2 bash "$HERE/bench_server.sh" "$@"
