#!/usr/bin/env bash
# sms-server driven by the vendor's Node.js SDK core (official_sdk.test.cjs).
# Usage: tests/sdk/run.sh BUILD_DIR
#   Installs what it needs (Debian nodejs/npm, `npm ci` of the pinned SDK
#   core), then runs the tests, which start BUILD_DIR/bin/sms-server on a
#   free loopback port and stop it. Exit status: 0 pass, non-zero fail.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SMS_SERVER="$BUILD_DIR/bin/sms-server"
[[ -x "$SMS_SERVER" ]] || { echo "sdk tests: $SMS_SERVER is not built" >&2; exit 2; }

need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  SUDO=""
  [[ $(id -u) == 0 ]] || SUDO=sudo
  echo "sdk tests: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci only when node_modules is missing or older than the lock file; a
# lock keeps two build directories' runs from installing at once.
stamp="$HERE/node_modules/.package-lock.json"
(
  flock 9
  if [[ ! -f "$stamp" || "$HERE/package-lock.json" -nt "$stamp" ]]; then
    cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error
  fi
) 9>"${TMPDIR:-/tmp}/sms-sdk-npm.lock"

cd "$HERE"
exec node --test --test-concurrency=1 official_sdk.test.cjs
