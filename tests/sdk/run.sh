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

source "$HERE/../support/node_deps.sh"
apt_install_missing "sdk tests" node:nodejs npm:npm
npm_ci_if_stale "$HERE"

cd "$HERE"
exec node --test --test-concurrency=1 official_sdk.test.cjs
