#!/usr/bin/env bash
# Benchmarks sms-server on loopback with wrk, side by side with nginx serving
# the same JSON body as a static file (the practical ceiling of the machine).
# Prints a Markdown table. Needs wrk, nginx (nginx-light) and python3:
#   SMS_BOOTSTRAP_BENCH=1 scripts/bootstrap.sh
# Usage: src/server/bench_server.sh [BUILD_DIR] [SECONDS]
# The 1-minute load average is printed beside the GET figures: the machine
# may be shared, and a busy one lowers every figure.
# SMS_BENCH_ONLY=uploads: the POST rows only (no nginx, no GET), for quick
# A/B runs of the upload path.
set -euo pipefail

BUILD_DIR=${1:-build}
SECS=${2:-10}
BIN="$BUILD_DIR/bin/sms-server"
[[ -x "$BIN" ]] || { echo "no $BIN: build first" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$NGINX" ]] || { echo "nginx not installed" >&2; exit 2; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# SMS_BENCH_DB: another database (bench_server_pg.sh: PostgreSQL).
DB=${SMS_BENCH_DB:-sqlite:$WORK/sms.db}
"$BIN" admin --db "$DB" create-domain bench >/dev/null
echo "bench-password" | "$BIN" admin --db "$DB" create-user --domain bench \
  --name op --role admin >/dev/null

"$BIN" serve --listen 127.0.0.1:0 --db "$DB" 2>"$WORK/server.log" &
PIDS+=($!)
for _ in $(seq 100); do
  PORT=$(grep -so '"address":"127.0.0.1:[0-9]*' "$WORK/server.log" | grep -o '[0-9]*$' || true)
  [[ -n "$PORT" ]] && break
  sleep 0.1
done
URL="http://127.0.0.1:$PORT"

TOKEN=$(curl -s -i -X POST "$URL/v3/auth/tokens" -H 'Content-Type: application/json' -d \
  '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"op","password":"bench-password","domain":{"name":"bench"}}}},"scope":{"domain":{"name":"bench"}}}}' \
  | tr -d '\r' | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}')
SRC=$(curl -s -X POST "$URL/v3/sources" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"bench","os_type":"LINUX"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
TASK=$(curl -s -X POST "$URL/v3/tasks" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"bench","os_type":"LINUX","source_server":{"id":"'"$SRC"'"},"target_server":{"name":"t"}}' \
  | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
curl -s -X POST "$URL/v3/tasks/$TASK/consistency-result" -H "X-Auth-Token: $TOKEN" \
  -H 'Content-Type: application/json' -d '{"finished_time":1736854315000,"consistency_result":[{"dir_check":"/root/sync","num_total_files":1,"num_different_files":0,"num_target_miss_files":0,"num_target_more_files":0}]}' >/dev/null
GET_PATH="/v3/tasks/$TASK/consistency-result"
curl -s "$URL$GET_PATH" -H "X-Auth-Token: $TOKEN" >"$WORK/result.json"

ONLY=${SMS_BENCH_ONLY:-all}

# wrk -> "rps p99_ms"
run_wrk() {
  local out
  out=$(wrk --latency "$@")
  local rps p99
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  # normalise p99 to milliseconds
  p99=$(python3 -c "
v='$p99'
import re
m=re.match(r'([0-9.]+)(us|ms|s)',v)
n=float(m.group(1)); u=m.group(2)
print(round(n/1000 if u=='us' else n*1000 if u=='s' else n,2))")
  echo "$rps $p99"
}

# CPU seconds (user+sys, of exited children too) used so far by the
# processes $@ and their descendants: what a row cost the servers and
# PostgreSQL.
cpu_s() {
  python3 - "$@" <<'PY'
import os, sys
roots = {int(p) for p in sys.argv[1:] if p}
parent = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            stat = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            parent[int(d)] = int(stat[1])
        except (OSError, IndexError, ValueError):
            pass
total = 0
for pid in parent:
    p, hops = pid, 0
    while p and p not in roots and hops < 64:
        p, hops = parent.get(p, 0), hops + 1
    if p in roots:
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in stat[11:15])
        except (OSError, ValueError):
            pass
print(round(total / os.sysconf("SC_CLK_TCK"), 2))
PY
}

T="-t2 -c64 -d${SECS}s"
if [[ "$ONLY" != uploads ]]; then
  # nginx serving the same body.
  mkdir -p "$WORK/nginx/www/v3/tasks/$TASK"
  cp "$WORK/result.json" "$WORK/nginx/www$GET_PATH"
  NPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/json;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp;
  scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NPORT; root $WORK/nginx/www; }
}
EOF
  mkdir -p "$WORK/nginx/tmp"
  "$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
  PIDS+=($!)
  sleep 0.5

  read -r NG_RPS NG_P99 < <(run_wrk $T "http://127.0.0.1:$NPORT$GET_PATH")
  NG_LOAD=$(cut -d' ' -f1 /proc/loadavg)
  read -r GET_RPS GET_P99 < <(run_wrk $T -H "X-Auth-Token: $TOKEN" "$URL$GET_PATH")
  GET_LOAD=$(cut -d' ' -f1 /proc/loadavg)
fi

# SMS_BENCH_REPLICAS=2 (bench_server_pg.sh): a second replica on the same
# database, and the same GET load split over both (one wrk per replica, 32
# connections each), as behind a load balancer.
REPLICA_ROW=""
if [[ "${SMS_BENCH_REPLICAS:-1}" == 2 ]]; then
  "$BIN" serve --listen 127.0.0.1:0 --db "$DB" 2>"$WORK/server2.log" &
  SERVER2=$!
  PIDS+=($SERVER2)
  for _ in $(seq 100); do
    PORT2=$(grep -so '"address":"127.0.0.1:[0-9]*' "$WORK/server2.log" | grep -o '[0-9]*$' || true)
    [[ -n "$PORT2" ]] && break
    sleep 0.1
  done
  URL2="http://127.0.0.1:$PORT2"
  curl -s "$URL2$GET_PATH" -H "X-Auth-Token: $TOKEN" >/dev/null
  if [[ "$ONLY" != uploads ]]; then
    run_wrk -t1 -c32 -d${SECS}s -H "X-Auth-Token: $TOKEN" "$URL$GET_PATH" >"$WORK/rep1" &
    W1=$!
    run_wrk -t1 -c32 -d${SECS}s -H "X-Auth-Token: $TOKEN" "$URL2$GET_PATH" >"$WORK/rep2" &
    W2=$!
    wait "$W1" "$W2"
    read -r R1_RPS R1_P99 <"$WORK/rep1"
    read -r R2_RPS R2_P99 <"$WORK/rep2"
    REP_RPS=$(python3 -c "print(round($R1_RPS + $R2_RPS, 2))")
    REP_P99=$(python3 -c "print(max($R1_P99, $R2_P99))")
    REPLICA_ROW="| same, two replicas (32 conns each, load avg $(cut -d' ' -f1 /proc/loadavg)) | $REP_RPS | $REP_P99 | $(python3 -c "print(round(100*$REP_RPS/$NG_RPS))")% of nginx |"
  fi
fi

if [[ "$ONLY" != uploads ]]; then
  # 1,000 extra idle keep-alive connections held open during the run.
  python3 - "$PORT" <<'EOF' &
import socket, sys, time
conns = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    conns.append(s)
time.sleep(3600)
EOF
  IDLE_PID=$!
  PIDS+=($IDLE_PID)
  sleep 1
  read -r IDLE_RPS IDLE_P99 < <(run_wrk $T -H "X-Auth-Token: $TOKEN" "$URL$GET_PATH")
  kill $IDLE_PID 2>/dev/null || true
fi

# POST of a 30-directory result (a new run each time; durable commit).
python3 - "$WORK/post.lua" <<'EOF'
import json, sys
dirs = [{"dir_check": "/data/d%02d" % i, "num_total_files": 1000 + i,
         "num_different_files": 0, "num_target_miss_files": 0,
         "num_target_more_files": 0} for i in range(30)]
body = json.dumps({"consistency_result": dirs})
open(sys.argv[1], "w").write(
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
    'wrk.body = ' + json.dumps(body) + '\n')
EOF
# The GET runs leave ~600 MB of request log dirty in the page cache; its
# writeback, once due, stalls the POSTs' fsyncs (p99 90-150 ms instead of
# 12-15 ms): write it out first, so the POST figure is the server's.
sync
read -r POST_RPS POST_P99 < <(run_wrk -t2 -c16 -d${SECS}s -s "$WORK/post.lua" \
  -H "X-Auth-Token: $TOKEN" "$URL$GET_PATH")

# Two replicas (bench_server_pg.sh), 8 connections each, as agents behind a
# load balancer: every upload for one task, then spread over 16 tasks.
# Goal (issue 14.3): >= 1,500 durable uploads/s across two replicas. Beside
# each figure: the load average and the CPU time per upload of the two
# servers and of PostgreSQL (SMS_BENCH_PG_PID: its postmaster), which a
# busy machine changes less than the rate.
UPLOAD_ROWS=""
if [[ -n "${SERVER2:-}" ]]; then
  TASKS=()
  for i in $(seq 16); do
    TASKS+=("$(curl -s -X POST "$URL/v3/tasks" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
      -d '{"name":"bench'"$i"'","os_type":"LINUX","source_server":{"id":"'"$SRC"'"},"target_server":{"name":"t"}}' \
      | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')")
  done
  # many.lua: post.lua, each request to the next of the 16 tasks.
  python3 - "$WORK/many.lua" "$WORK/post.lua" "${TASKS[@]}" <<'EOF'
import sys
paths = ", ".join('"/v3/tasks/%s/consistency-result"' % t for t in sys.argv[3:])
open(sys.argv[1], "w").write(
    open(sys.argv[2]).read() + "local paths = {" + paths + "}\nlocal n = 0\n"
    "request = function()\n  n = n + 1\n"
    "  return wrk.format(nil, paths[n % #paths + 1])\nend\n")
EOF
  # SCRIPT -> "rps p99 servers_cpu_ms postgres_cpu_ms load" (CPU per upload)
  two_replicas() {
    local before after pg_before pg_after r1 p1 r2 p2
    sync
    before=$(cpu_s "${PIDS[0]}" "$SERVER2")
    pg_before=$(cpu_s "${SMS_BENCH_PG_PID:-}")
    run_wrk -t1 -c8 -d${SECS}s -s "$1" -H "X-Auth-Token: $TOKEN" "$URL$GET_PATH" >"$WORK/up1" &
    local w1=$!
    run_wrk -t1 -c8 -d${SECS}s -s "$1" -H "X-Auth-Token: $TOKEN" "$URL2$GET_PATH" >"$WORK/up2" &
    local w2=$!
    wait "$w1" "$w2"
    after=$(cpu_s "${PIDS[0]}" "$SERVER2")
    pg_after=$(cpu_s "${SMS_BENCH_PG_PID:-}")
    read -r r1 p1 <"$WORK/up1"
    read -r r2 p2 <"$WORK/up2"
    # CPU per upload: milliseconds of both servers' and PostgreSQL's CPU.
    python3 -c "print(round($r1 + $r2, 2), max($p1, $p2),
      round(1000 * ($after - $before) / (($r1 + $r2) * $SECS), 2),
      round(1000 * ($pg_after - $pg_before) / (($r1 + $r2) * $SECS), 2))" |
      tr '\n' ' '
    cut -d' ' -f1 /proc/loadavg
  }
  goal() { python3 -c "print('goal >= 1,500/s ' + ('met' if $1 >= 1500 else 'NOT met'))"; }
  read -r ONE_RPS ONE_P99 ONE_CPU ONE_PG ONE_LOAD < <(two_replicas "$WORK/post.lua")
  read -r MANY_RPS MANY_P99 MANY_CPU MANY_PG MANY_LOAD < <(two_replicas "$WORK/many.lua")
  UPLOAD_ROWS="| POST 30-directory result, two replicas (8 conns each), one task (load avg $ONE_LOAD; CPU ms per upload: servers $ONE_CPU, PostgreSQL $ONE_PG) | $ONE_RPS | $ONE_P99 | $(goal "$ONE_RPS") |
| same, spread over 16 tasks (load avg $MANY_LOAD; CPU ms per upload: servers $MANY_CPU, PostgreSQL $MANY_PG) | $MANY_RPS | $MANY_P99 | $(goal "$MANY_RPS") |"
fi

if [[ "$ONLY" != uploads ]]; then
  # The task now has a run per POST: its default page is the 100 newest, of
  # 30 directories each (docs/server.md, "A large page").
  BIG_KB=$(curl -s "$URL$GET_PATH" -H "X-Auth-Token: $TOKEN" | wc -c | awk '{print int($1/1024)}')
  read -r BIG_RPS BIG_P99 < <(run_wrk -t2 -c16 -d${SECS}s -H "X-Auth-Token: $TOKEN" \
    "$URL$GET_PATH")
fi

pct() { python3 -c "print(round(100*$1/$2))"; }
echo "| scenario (loopback, $(nproc) cores, ${SECS}s each) | requests/s | p99 ms | note |"
echo "|---|---|---|---|"
if [[ "$ONLY" != uploads ]]; then
  cat <<EOF
| nginx static file, same JSON body, 64 conns (load avg $NG_LOAD) | $NG_RPS | $NG_P99 | ceiling |
| GET consistency-result with token, 64 conns (load avg $GET_LOAD) | $GET_RPS | $GET_P99 | $(pct "$GET_RPS" "$NG_RPS")% of nginx |
${REPLICA_ROW:+$REPLICA_ROW
}| GET consistency-result, one server, with 1,000 extra idle keep-alive conns | $IDLE_RPS | $IDLE_P99 | $(pct "$IDLE_RPS" "$GET_RPS")% of the 64-conn GET |
EOF
fi
echo "| POST 30-directory result (fsync per commit), 16 conns | $POST_RPS | $POST_P99 | durable |"
if [[ -n "$UPLOAD_ROWS" ]]; then echo "$UPLOAD_ROWS"; fi
if [[ "$ONLY" != uploads ]]; then
  echo "| GET of 100 runs x 30 directories (${BIG_KB} KB), 16 conns | $BIG_RPS | $BIG_P99 | large page |"
fi
