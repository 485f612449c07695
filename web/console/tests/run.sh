#!/usr/bin/env bash
# Browser tests of the web console against the real sms-server on loopback.
# Usage: web/console/tests/run.sh BUILD_DIR
#   Installs what it needs (Debian chromium, nodejs/npm, `npm ci`), seeds a
#   fresh database, starts BUILD_DIR/bin/sms-server on a free loopback port,
#   runs tests/*.test.mjs with playwright-core driving /usr/bin/chromium, and
#   stops the server. Screenshots and the exported CSV land in
#   BUILD_DIR/console-test/artifacts. Exit status: 0 pass, non-zero fail.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
CONSOLE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER="$BUILD_DIR/bin/sms-server"
WORK="$BUILD_DIR/console-test"
ARTIFACT_DIR="$WORK/artifacts"

if [[ ! -x "$SERVER" ]]; then
  echo "console tests: $SERVER is not built" >&2
  exit 2
fi

# --- what the tests need: chromium, node + npm, playwright-core ---
source "$CONSOLE_DIR/../../tests/support/node_deps.sh"
apt_install_missing "console tests" /usr/bin/chromium:chromium curl:curl \
  node:nodejs npm:npm
npm_ci_if_stale "$CONSOLE_DIR"

# --- a fresh server with a seeded domain and one user per role ---
rm -rf "$WORK"
mkdir -p "$WORK" "$ARTIFACT_DIR"
DB="sqlite:$WORK/sms.db"
export SMS_PBKDF2_ITERATIONS=1000 # fast logins; the default is for production
PASSWORD="console-test-$RANDOM-$RANDOM-pw"
DOMAIN=acme
"$SERVER" admin --db "$DB" create-domain "$DOMAIN" >/dev/null
for user in olivia:operator victor:viewer agent-web:agent ada:admin; do
  echo "$PASSWORD" | "$SERVER" admin --db "$DB" create-user \
    --domain "$DOMAIN" --name "${user%%:*}" --role "${user##*:}" >/dev/null
done

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# Waits until FILE contains a line matching REGEX; prints the first capture.
wait_for_port() {
  local file=$1 regex=$2 pid=$3
  for _ in $(seq 1 100); do
    if port=$(grep -oE "$regex" "$file" 2>/dev/null | head -1 | grep -oE '[0-9]+$'); then
      if [[ -n "$port" ]]; then
        echo "$port"
        return 0
      fi
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "console tests: no port in $file:" >&2
  cat "$file" >&2
  return 1
}

serve_args=(serve --listen 127.0.0.1:0 --db "$DB" --io-threads 1)
if "$SERVER" serve --help 2>&1 | grep -q -- --console-dir; then
  serve_args+=(--console-dir "$CONSOLE_DIR")
fi
"$SERVER" "${serve_args[@]}" 2>"$WORK/server.log" &
pids+=($!)
PORT=$(wait_for_port "$WORK/server.log" '"address":"127\.0\.0\.1:[0-9]+' "${pids[0]}")
BASE="http://127.0.0.1:$PORT"

# The server serves /console/ itself; older builds get a stand-in proxy.
if [[ $(curl -s -o /dev/null -w '%{http_code}' "$BASE/console/") != 200 ]]; then
  echo "console tests: $SERVER does not serve /console/; using tests/dev-proxy.mjs" >&2
  node "$CONSOLE_DIR/tests/dev-proxy.mjs" "$BASE" 0 >"$WORK/proxy.log" 2>&1 &
  pids+=($!)
  PORT=$(wait_for_port "$WORK/proxy.log" 'listening [0-9]+' "${pids[1]}")
  BASE="http://127.0.0.1:$PORT"
fi

echo "console tests: $BASE/console/ (artifacts in $ARTIFACT_DIR)" >&2
cd "$CONSOLE_DIR"
set +e
SMS_BASE_URL="$BASE" SMS_DOMAIN="$DOMAIN" SMS_PASSWORD="$PASSWORD" \
  ARTIFACT_DIR="$ARTIFACT_DIR" \
  node --test --test-concurrency=1 --test-reporter=spec tests/format.test.mjs tests/console.test.mjs \
    tests/schedule.test.mjs
rc=$?
set -e
if [[ $rc != 0 ]]; then
  echo "console tests: FAILED (server log: $WORK/server.log)" >&2
fi
exit $rc
