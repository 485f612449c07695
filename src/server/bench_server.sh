#!/usr/bin/env bash
# Benchmarks sms-server on loopback with wrk, side by side with nginx serving
# the same JSON body as a static file (the practical ceiling of the machine).
# Prints a Markdown table. Needs wrk, nginx (nginx-light) and python3:
#   SMS_BOOTSTRAP_BENCH=1 scripts/bootstrap.sh
# Usage: src/server/bench_server.sh [BUILD_DIR] [SECONDS]
# The 1-minute load average is printed beside the GET figures: the machine
# may be shared, and a busy one lowers every figure.
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

T="-t2 -c64 -d${SECS}s"
read -r NG_RPS NG_P99 < <(run_wrk $T "http://127.0.0.1:$NPORT$GET_PATH")
NG_LOAD=$(cut -d' ' -f1 /proc/loadavg)
read -r GET_RPS GET_P99 < <(run_wrk $T -H "X-Auth-Token: $TOKEN" "$URL$GET_PATH")
GET_LOAD=$(cut -d' ' -f1 /proc/loadavg)

# SMS_BENCH_REPLICAS=2 (bench_server_pg.sh): a second replica on the same
# database, and the same GET load split over both (one wrk per replica, 32
# connections each), as behind a load balancer.
REPLICA_ROW=""
if [[ "${SMS_BENCH_REPLICAS:-1}" == 2 ]]; then
  "$BIN" serve --listen 127.0.0.1:0 --db "$DB" 2>"$WORK/server2.log" &
  PIDS+=($!)
  for _ in $(seq 100); do
    PORT2=$(grep -so '"address":"127.0.0.1:[0-9]*' "$WORK/server2.log" | grep -o '[0-9]*$' || true)
    [[ -n "$PORT2" ]] && break
    sleep 0.1
  done
  URL2="http://127.0.0.1:$PORT2"
  curl -s "$URL2$GET_PATH" -H "X-Auth-Token: $TOKEN" >/dev/null
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

# The task now has a run per POST: its default page is the 100 newest, of
# 30 directories each (docs/server.md, "A large page").
BIG_KB=$(curl -s "$URL$GET_PATH" -H "X-Auth-Token: $TOKEN" | wc -c | awk '{print int($1/1024)}')
read -r BIG_RPS BIG_P99 < <(run_wrk -t2 -c16 -d${SECS}s -H "X-Auth-Token: $TOKEN" \
  "$URL$GET_PATH")

pct() { python3 -c "print(round(100*$1/$2))"; }
cat <<EOF
| scenario (loopback, $(nproc) cores, ${SECS}s each) | requests/s | p99 ms | note |
|---|---|---|---|
| nginx static file, same JSON body, 64 conns (load avg $NG_LOAD) | $NG_RPS | $NG_P99 | ceiling |
| GET consistency-result with token, 64 conns (load avg $GET_LOAD) | $GET_RPS | $GET_P99 | $(pct "$GET_RPS" "$NG_RPS")% of nginx |
${REPLICA_ROW:+$REPLICA_ROW
}| same, with 1,000 extra idle keep-alive conns | $IDLE_RPS | $IDLE_P99 | $(pct "$IDLE_RPS" "$GET_RPS")% of the line above |
| POST 30-directory result (fsync per commit), 16 conns | $POST_RPS | $POST_P99 | durable |
| GET of 100 runs x 30 directories (${BIG_KB} KB), 16 conns | $BIG_RPS | $BIG_P99 | large page |
EOF
