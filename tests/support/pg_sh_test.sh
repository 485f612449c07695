#!/usr/bin/env bash
# pg.sh destroy on a frozen cluster (tests/support/pg.sh): a postmaster
# stopped with SIGSTOP is continued and shut down in seconds (pg_ctl alone
# would wait out its timeouts, 2 minutes), and nothing is left: no postgres
# of that cluster, no cluster directory, no state directory.
# Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass.
set -uo pipefail

PG_SH=$(cd "$(dirname "$0")" && pwd)/pg.sh
state=$(mktemp -d "${TMPDIR:-/tmp}/sms-pg-sh-test.XXXXXX")
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill -CONT "$pid" 2>/dev/null
  bash "$PG_SH" destroy "$state" >/dev/null 2>&1
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

passed=0 failed=0
check() {  # NAME OK [DETAIL]
  if [[ "$2" == 1 ]]; then
    passed=$((passed + 1)); echo "PASS $1"
  else
    failed=$((failed + 1)); echo "FAIL $1 ${3:-}"
  fi
}

SMS_PG_OWNER_PID=$$ bash "$PG_SH" start "$state" >/dev/null || {
  echo "FAIL pg.sh start"; echo "0 passed, 1 failed"; exit 1; }
cluster=$(cat "$state/cluster")
pid=$(head -1 "$cluster/data/postmaster.pid")
kill -STOP "$pid"
start=$(date +%s.%N)
bash "$PG_SH" destroy "$state"
rc=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
check "destroy of a frozen postmaster succeeds" "$([[ $rc == 0 ]] && echo 1)" "rc=$rc"
# Without SIGCONT: 10 s of fast shutdown, 5 s of immediate, then SIGKILL.
check "it takes under 8 s" "$(echo "$took < 8" | bc)" "took ${took} s"
# It removes its pid file just before it exits: give it a moment (a zombie
# waiting for its parent counts as gone).
running() { [[ -r /proc/$1/stat && $(cut -d')' -f2 "/proc/$1/stat" | cut -d' ' -f2) != Z ]]; }
for _ in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
check "the postmaster is gone" "$(running "$pid" || echo 1)" "pid $pid"
check "the cluster and state directories are removed" \
  "$([[ ! -e "$cluster" && ! -e "$state" ]] && echo 1)"
echo "took ${took} s"
echo "$passed passed, $failed failed"
((failed == 0))
