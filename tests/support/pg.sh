#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for tests, from Debian's postgresql-15.
#
#   pg.sh start STATE_DIR    initdb (first time) + start; prints the DSN
#   pg.sh stop STATE_DIR     fast shutdown, keeps the data (start again later)
#   pg.sh restart STATE_DIR  fast shutdown + start on the same data and port
#   pg.sh crash STATE_DIR    immediate shutdown (no checkpoint, like a crash:
#                            the next start replays the WAL)
#   pg.sh destroy STATE_DIR  stop and remove STATE_DIR
#   pg.sh exec STATE_DIR CMD...  run CMD with SMS_TEST_PG_DSN (socket),
#                            SMS_TEST_PG_URL (TCP URI) and SMS_TEST_PG_STATE
#
# The cluster itself lives in a fresh directory under ${TMPDIR:-/tmp} (so
# the Unix socket path stays short and the unprivileged server user can
# reach it wherever STATE_DIR is); STATE_DIR/cluster names it. It listens on
# a Unix socket in that directory and on 127.0.0.1 at a free port (loopback
# only), trusts local connections, and has one database `sms` owned by the
# role `sms`. After start:
#   STATE_DIR/dsn  libpq keyword string over the socket (the fast path)
#   STATE_DIR/url  postgresql://sms@127.0.0.1:PORT/sms (the URI form)
# As root, the server runs as the unprivileged user `postgres` (created by
# Debian's postgresql-common) or, if absent, a user created on the fly.
# Speed over durability: fsync is off (a throw-away cluster; a fast or
# immediate shutdown of the server alone loses nothing, the OS keeps the
# page cache); SMS_PG_FSYNC=on at the first start keeps it on (benchmarks).
#
# Nothing outlives its user: with SMS_PG_OWNER_PID set at start (a process
# id, or "parent": the caller of pg.sh, e.g. ctest), a detached watchdog
# destroys the cluster once that process is gone, so a run killed by a
# timeout or SIGKILL (no trap runs) leaves no postgres behind; callers also
# destroy it from their EXIT traps. destroy stops the server for sure
# before removing anything, and quickly even when it was frozen: SIGCONT to
# its processes, a fast shutdown given 10 s, an immediate one 5 s, then
# SIGKILL of the postmaster.
set -euo pipefail

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cmd=${1:-}
state=${2:-}
if [[ -z "$cmd" || -z "$state" ]]; then
  echo "usage: pg.sh start|stop|restart|crash|destroy|exec STATE_DIR [CMD...]" >&2
  exit 2
fi

bindir=${SMS_PG_BINDIR:-}
if [[ -z "$bindir" ]]; then
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/pg_ctl" ]]; then bindir=$d; break; fi
  done
fi
if [[ -z "$bindir" || ! -x "$bindir/pg_ctl" ]]; then
  echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 3
fi

as_owner() {
  if [[ $(id -u) == 0 ]]; then
    runuser -u "$pg_user" -- "$@"
  else
    "$@"
  fi
}

pg_user=$(id -un)
if [[ $(id -u) == 0 ]]; then
  pg_user=postgres
  if ! id "$pg_user" >/dev/null 2>&1; then
    pg_user=sms-pg
    id "$pg_user" >/dev/null 2>&1 ||
      useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  fi
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cluster_dir() {
  if [[ -f "$state/cluster" && -d $(cat "$state/cluster") ]]; then
    cat "$state/cluster"
  fi
}

start() {
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  touch "$state/.sms-pg"
  local dir
  dir=$(cluster_dir)
  if [[ -z "$dir" ]]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sms-pg.XXXXXX")
    echo "$dir" >"$state/cluster"
  fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    if [[ $(id -u) == 0 ]]; then chown "$pg_user" "$dir"; fi
    as_owner "$bindir/initdb" -D "$dir/data" -U sms -A trust -E UTF8 \
      --locale=C --no-sync >"$state/initdb.log" 2>&1 || {
      cat "$state/initdb.log" >&2
      exit 1
    }
    free_port >"$state/port"
    local fsync=off
    [[ "${SMS_PG_FSYNC:-off}" == on ]] && fsync=on
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $(cat "$state/port")
unix_socket_directories = '$dir'
max_connections = 200
fsync = ${fsync}
full_page_writes = ${fsync}
shared_buffers = 64MB
log_min_messages = warning
EOF
  fi
  local port
  port=$(cat "$state/port")
  if as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    : # already running (a previous run that was not cleaned up)
  else
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      start >/dev/null || {
      tail -n 20 "$dir/server.log" >&2
      exit 1
    }
  fi
  if [[ ! -f "$dir/created" ]]; then
    as_owner "$bindir/createdb" -h "$dir" -p "$port" -U sms sms
    as_owner touch "$dir/created"
  fi
  echo "host=$dir port=$port user=sms dbname=sms" >"$state/dsn"
  echo "postgresql://sms@127.0.0.1:$port/sms" >"$state/url"
  watchdog
  cat "$state/dsn"
}

# SMS_PG_OWNER_PID (see the top): one watchdog per state directory, which
# ends by itself when the state directory is gone (destroyed by its owner).
watchdog() {
  local owner=${SMS_PG_OWNER_PID:-}
  [[ -n "$owner" ]] || return 0
  [[ "$owner" == parent ]] && owner=$PPID
  if [[ ! "$owner" =~ ^[0-9]+$ ]]; then
    echo "pg.sh: SMS_PG_OWNER_PID must be a process id or \"parent\"" >&2
    exit 2
  fi
  if [[ -f "$state/watchdog" ]] && kill -0 "$(cat "$state/watchdog")" 2>/dev/null; then
    return 0
  fi
  setsid bash -c 'while [[ -d "$2" ]]; do
                    kill -0 "$1" 2>/dev/null || { bash "$3" destroy "$2"; exit 0; }
                    sleep 1
                  done' pg-watchdog "$owner" "$state" "$self" \
    </dev/null >/dev/null 2>&1 &
  echo $! >"$state/watchdog"
}

# stop [MODE [SECONDS]]: pg_ctl stop, waiting up to SECONDS (60).
stop() {
  local mode=${1:-fast} wait=${2:-60} dir
  dir=$(cluster_dir)
  if [[ -n "$dir" && -f "$dir/data/postmaster.pid" ]]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m "$mode" -w -t "$wait" stop >/dev/null
  fi
}

# The postmaster's process id, from its pid file; empty when there is none
# or that process is no postgres (a stale file: the number may be reused).
postmaster_pid() {
  local dir pid
  dir=$(cluster_dir)
  [[ -n "$dir" && -f "$dir/data/postmaster.pid" ]] || return 0
  pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null) || return 0
  if [[ "$pid" =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]]; then
    echo "$pid"
  fi
  return 0
}

# Stops the server whatever it takes, in seconds: SIGCONT to the postmaster
# and its children first (a stopped process cannot act on a shutdown: pg_ctl
# would wait its whole timeout), then a fast shutdown, else an immediate
# one, else SIGKILL to the postmaster (its backends exit with it).
stop_for_sure() {
  local pid i
  pid=$(postmaster_pid)
  if [[ -n "$pid" ]]; then
    kill -CONT "$pid" 2>/dev/null || true
    pkill -CONT -P "$pid" 2>/dev/null || true
  fi
  stop fast 10 2>/dev/null && return 0
  stop immediate 5 2>/dev/null && return 0
  pid=$(postmaster_pid)
  [[ -n "$pid" ]] || return 0
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "pg.sh: postmaster $pid of $(cluster_dir) does not exit" >&2
  return 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  crash) stop immediate ;;
  restart)
    stop
    start >/dev/null
    ;;
  exec)
    shift 2
    export SMS_TEST_PG_DSN SMS_TEST_PG_URL SMS_TEST_PG_STATE
    SMS_TEST_PG_DSN=$(cat "$state/dsn")
    SMS_TEST_PG_URL=$(cat "$state/url")
    SMS_TEST_PG_STATE=$(cd "$state" && pwd)
    exec "$@"
    ;;
  destroy)
    [[ -d "$state" ]] || exit 0
    # A server that would not stop keeps its files (and is named).
    stop_for_sure
    dir=$(cluster_dir)
    if [[ -n "$dir" && -d "$dir/data" ]]; then rm -rf "$dir"; fi
    if [[ -f "$state/.sms-pg" ]]; then rm -rf "$state"; fi
    ;;
  *)
    echo "pg.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
