# Sourced by the Node.js test runners (web/console/tests/run.sh,
# tests/sdk/run.sh): what they need installed, the same way each time.

# apt_install_missing WHO [CMD:PACKAGE ...] [/path:PACKAGE ...]
#   Installs, from Debian, each PACKAGE whose command (or absolute path) is
#   missing; WHO names the caller in the message.
apt_install_missing() {
  local who=$1 need=() item want pkg
  shift
  for item in "$@"; do
    want=${item%%:*}
    pkg=${item##*:}
    if [[ $want == /* ]]; then
      [[ -x $want ]] || need+=("$pkg")
    else
      command -v "$want" >/dev/null || need+=("$pkg")
    fi
  done
  ((${#need[@]})) || return 0
  local sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  echo "$who: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# npm_ci_if_stale DIR
#   `npm ci` in DIR when its node_modules is missing or older than its lock
#   file; a lock keeps two build directories' runs from installing at once.
npm_ci_if_stale() {
  local dir=$1
  local stamp="$dir/node_modules/.package-lock.json"
  (
    flock 9
    if [[ ! -f "$stamp" || "$dir/package-lock.json" -nt "$stamp" ]]; then
      cd "$dir" && npm ci --no-audit --no-fund --loglevel=error
    fi
  ) 9>"${TMPDIR:-/tmp}/sms-npm-$(basename "$dir").lock"
}
