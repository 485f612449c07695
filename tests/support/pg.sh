#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for tests, from Debian's postgresql-15.
#
#   pg.sh start STATE_DIR    initdb (first time) + start; prints the DSN
#   pg.sh stop STATE_DIR     fast shutdown, keeps the data (start again later)
#   pg.sh restart STATE_DIR  fast shutdown + start on the same data and port
#   pg.sh destroy STATE_DIR  stop and remove STATE_DIR
#
# The cluster listens on a Unix socket in STATE_DIR and on 127.0.0.1 at a
# free port (loopback only), trusts local connections, and has one database
# `sms` owned by the role `sms`. After start:
#   STATE_DIR/dsn  libpq keyword string over the socket (the fast path)
#   STATE_DIR/url  postgresql://sms@127.0.0.1:PORT/sms (the URI form)
# As root, the server runs as the unprivileged user `postgres` (created by
# Debian's postgresql-common) or, if absent, a user created on the fly.
# Speed over durability: fsync is off (a throw-away cluster; a fast or
# immediate shutdown of the server alone loses nothing, the OS keeps the
# page cache).
set -euo pipefail

cmd=${1:-}
state=${2:-}
if [[ -z "$cmd" || -z "$state" ]]; then
  echo "usage: pg.sh start|stop|restart|destroy STATE_DIR" >&2
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

start() {
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  touch "$state/.sms-pg"
  if [[ ! -f "$state/data/PG_VERSION" ]]; then
    [[ $(id -u) == 0 ]] && chown "$pg_user" "$state"
    as_owner "$bindir/initdb" -D "$state/data" -U sms -A trust -E UTF8 \
      --locale=C --no-sync >"$state/initdb.log" 2>&1 || {
      cat "$state/initdb.log" >&2
      exit 1
    }
    free_port >"$state/port"
    cat >>"$state/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $(cat "$state/port")
unix_socket_directories = '$state'
max_connections = 200
fsync = off
full_page_writes = off
shared_buffers = 64MB
log_min_messages = warning
EOF
  fi
  local port
  port=$(cat "$state/port")
  as_owner "$bindir/pg_ctl" -D "$state/data" -l "$state/server.log" -w -t 60 \
    start >/dev/null || {
    tail -n 20 "$state/server.log" >&2
    exit 1
  }
  if [[ ! -f "$state/created" ]]; then
    as_owner "$bindir/createdb" -h "$state" -p "$port" -U sms sms
    touch "$state/created"
  fi
  echo "host=$state port=$port user=sms dbname=sms" >"$state/dsn"
  echo "postgresql://sms@127.0.0.1:$port/sms" >"$state/url"
  cat "$state/dsn"
}

stop() {
  if [[ -f "$state/data/postmaster.pid" ]]; then
    as_owner "$bindir/pg_ctl" -D "$state/data" -m fast -w -t 60 stop >/dev/null
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart)
    stop
    start >/dev/null
    ;;
  destroy)
    [[ -d "$state" ]] || exit 0
    stop || true
    if [[ -f "$state/.sms-pg" ]]; then rm -rf "$state"; fi
    ;;
  *)
    echo "pg.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
