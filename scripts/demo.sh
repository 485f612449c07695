#!/usr/bin/env bash
# `make run`: the whole system on one machine, on the embedded SQLite default.
# Starts sms-server, creates a demo domain with an admin and an agent
# credential, generates a source tree and a target copy with known
# differences, starts `sms-agent run` for the source, creates a task,
# configures its directories, triggers a consistency check, waits for the
# run and prints GET /v3/tasks/{id}/consistency-result, a few file details
# and how to go on. Ctrl-C stops everything it started.
# env: SMS_DEMO_LISTEN (default 127.0.0.1:8080; a free port is used when busy)
set -euo pipefail
build=${1:-build}
repo=$(cd "$(dirname "$0")/.." && pwd)
server="$repo/$build/bin/sms-server"
agent="$repo/$build/bin/sms-agent"
demo="$repo/var/demo"
listen=${SMS_DEMO_LISTEN:-127.0.0.1:8080}

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
if port_busy "$listen"; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "$listen is in use; the demo server listens on 127.0.0.1:$port instead"
  listen=127.0.0.1:$port
fi
url="http://$listen"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; echo "stopping the demo"; exit 0' INT TERM

mkdir -p "$demo"
# A demo still running serves this database (it holds sms.db.lock): do not
# pull the database from under it.
if [[ -e "$demo/sms.db.lock" ]] && ! flock -n "$demo/sms.db.lock" true; then
  echo "another demo is running on $demo/sms.db (sms-server pid $(cat "$demo/sms.db.lock")):" \
    "stop it first (Ctrl-C in its terminal)" >&2
  exit 1
fi
rm -rf "$demo/sms.db" "$demo/sms.db-wal" "$demo/sms.db-shm" "$demo/agent-state"
db="sqlite:$demo/sms.db"
"$repo/scripts/demo_trees.sh" "$demo" >/dev/null

echo "== sms-server: a demo domain, an admin and an agent credential"
"$server" admin --db "$db" create-domain demo >/dev/null
admin_pass=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
echo "$admin_pass" | "$server" admin --db "$db" create-user --domain demo --name admin --role admin >/dev/null
echo "agent-$admin_pass" | "$server" admin --db "$db" create-user --domain demo --name agent --role agent >/dev/null
read -r ak sk < <("$server" admin --db "$db" create-credential --domain demo --user agent)
"$server" serve --listen "$listen" --db "$db" > "$demo/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$url/healthz" >/dev/null || { echo "sms-server did not start; see $demo/server.log"; exit 1; }

echo "== sms-agent run: the source is $demo/source"
cat > "$demo/agent.conf" <<CONF
server = $url
ak = $ak
sk = $sk
state-dir = $demo/agent-state
name = demo-source
poll-interval = 1
source-root = $demo/source
CONF
"$agent" run --config "$demo/agent.conf" > "$demo/agent.log" 2>&1 &
pids+=($!)

token=$(curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "$url/v3/auth/tokens" -d "{
  \"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {
   \"name\": \"admin\", \"password\": \"$admin_pass\", \"domain\": {\"name\": \"demo\"}}}},
   \"scope\": {\"domain\": {\"name\": \"demo\"}}}}" | awk 'tolower($1)=="x-subject-token:"{print $2}' | tr -d '\r')
H=(-H "X-Auth-Token: $token" -H 'Content-Type: application/json')
source_id=""
for _ in $(seq 100); do
  source_id=$(curl -sf "${H[@]}" "$url/v3/sources?name=demo-source" | json 'd["source_servers"][0]["id"] if d["source_servers"] else ""')
  [[ -n "$source_id" ]] && break
  sleep 0.1
done
[[ -n "$source_id" ]] || { echo "the agent did not register; see $demo/agent.log"; exit 1; }

echo "== a task: directories /etc, /var/www and /home, target file://$demo/target"
task_id=$(curl -sf "${H[@]}" "$url/v3/tasks" -d "{\"name\": \"demo-migration\", \"type\": \"MIGRATE_FILE\",
  \"os_type\": \"LINUX\", \"source_server\": {\"id\": \"$source_id\"},
  \"target_server\": {\"name\": \"demo-target\", \"ip\": \"127.0.0.1\", \"verify_uri\": \"file://$demo/target\"}}" | json 'd["id"]')
curl -sf "${H[@]}" "$url/v3/tasks/$task_id/configuration-setting" -d '{"configurations": [
  {"config_key": "CONSISTENCY_DIR", "config_value": "/etc,/var/www,/home"},
  {"config_key": "CONSISTENCY_MODE", "config_value": "hash"}]}' >/dev/null
curl -sf "${H[@]}" "$url/v3/tasks/$task_id/action" -d '{"operation": "consistency_check"}' >/dev/null

echo "== waiting for the run"
for _ in $(seq 300); do
  n=$(curl -sf "${H[@]}" "$url/v3/tasks/$task_id/consistency-result" | json 'len(d["result_list"])')
  [[ "$n" -gt 0 ]] && break
  sleep 0.2
done
echo
echo "GET $url/v3/tasks/$task_id/consistency-result"
curl -sf "${H[@]}" "$url/v3/tasks/$task_id/consistency-result" | python3 -m json.tool
echo
echo "The first differing files (GET .../consistency-result/details?limit=8):"
curl -sf "${H[@]}" "$url/v3/tasks/$task_id/consistency-result/details?limit=8" | python3 -c '
import json, sys
for f in json.load(sys.stdin)["files"]:
    side = f.get("source") or f.get("target")
    print("  %-12s %-8s %-9s %s%s" % (f["status"], f.get("reason", ""), side["type"],
          f["dir_check"].rstrip("/") + "/", f["path"]))'
cat <<EOF2

The system is running. Try it:
  console   $url/console/   (domain demo, user admin, password $admin_pass)
  token     export TOKEN=$token
  results   curl -H "X-Auth-Token: \$TOKEN" $url/v3/tasks/$task_id/consistency-result
  details   curl -H "X-Auth-Token: \$TOKEN" "$url/v3/tasks/$task_id/consistency-result/details?status=target_miss"
  export    curl -H "X-Auth-Token: \$TOKEN" -H 'Content-Type: application/json' \\
              $url/v3/tasks/consistency-results/export -d '{"task_info":[{"task_id":"$task_id"}]}'
  check     curl -H "X-Auth-Token: \$TOKEN" -H 'Content-Type: application/json' \\
              $url/v3/tasks/$task_id/action -d '{"operation":"consistency_check"}'
            # again: the hash cache reads only the files that changed since
  re-check  curl -H "X-Auth-Token: \$TOKEN" -H 'Content-Type: application/json' \\
              $url/v3/tasks/$task_id/action -d '{"operation":"consistency_check","scope":"inconsistent"}'
            # only the files the last check found not equal (fix some in $demo/target first)
  changes   curl -H "X-Auth-Token: \$TOKEN" $url/v3/tasks/$task_id/consistency-result/changes
            # the differences new, resolved or persisting since the run before
  agent     AK $ak (secret in $demo/agent.conf); logs in $demo/*.log
Press Ctrl-C to stop the server and the agent.
EOF2
wait
