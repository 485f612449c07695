#!/usr/bin/env bash
# End-to-end (issue 16, item 2): `sms-agent verify --push-agent` against a real sshd on loopback
# (tests/support/sshd.sh) whose user has no sms-agent on its PATH. The static agent is copied to a
# private directory under --remote-tmp, checked, run, and removed afterwards; also when the check is
# killed mid-way; a stale leftover is swept at the next push; an agent of another version on the
# target is passed over, with a warning.
#
# usage: tests/e2e/push_agent_test.sh BUILD_DIR
#   env: SMS_AGENT_BIN         the agent to test (default BUILD_DIR/bin/sms-agent)
#        SMS_STATIC_AGENT_BIN  the agent to push (default BUILD_DIR/bin/sms-agent-static)
#        SMS_KEEP_TMP=1        keep the temporary directory (always kept on failure)
# Exit: 0 passed, 1 a check failed, 77 skipped (no sshd, no static agent, or the remote PATH
#       already has an sms-agent).
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../support/e2e.sh"
e2e_build_dir "$@"
AGENT="${SMS_AGENT_BIN:-$BUILD/bin/sms-agent}"
STATIC="${SMS_STATIC_AGENT_BIN:-$BUILD/bin/sms-agent-static}"
TMO=120

[[ -x "$AGENT" ]] || { echo "FAIL $AGENT not found (build first)"; exit 1; }
[[ -x "$STATIC" ]] || { echo "SKIP $STATIC not found (make agent-static)"; exit 77; }
[[ -x /usr/sbin/sshd ]] || { echo "SKIP /usr/sbin/sshd not installed"; exit 77; }

e2e_tmp sms-push
e2e_sshd || exit 1
SSH=(ssh -F "$SSHD_STATE/ssh_config" sms-test)
if "${SSH[@]}" 'command -v sms-agent' > "$TMP/which.out" 2>&1; then
  echo "SKIP the ssh user's PATH has an sms-agent ($(cat "$TMP/which.out")): nothing to push"
  exit 77
fi
pass "no sms-agent on the remote PATH"

# A small tree pair with known differences: 1 modified, 1 missing on the target, 1 extra.
SRC="$TMP/src"; DST="$TMP/dst"; RTMP="$TMP/remote-tmp"
mkdir -p "$SRC/a/b" "$DST/a/b" "$RTMP"
for i in $(seq 1 40); do
  head -c $((i * 997)) /dev/urandom > "$SRC/a/f$i"
  cp -p "$SRC/a/f$i" "$DST/a/f$i"
done
echo same > "$SRC/a/b/s"; cp -p "$SRC/a/b/s" "$DST/a/b/s"
echo one > "$SRC/a/b/changed"; echo two > "$DST/a/b/changed"
echo gone > "$SRC/a/b/missing"
echo new > "$DST/a/b/extra"

OPTS=(--json --no-progress --ssh-option -F --ssh-option "$SSHD_STATE/ssh_config"
      --remote-tmp "$RTMP" --static-agent "$STATIC")
TARGET="ssh://sms-test$DST"
EXPECT="43 1 1 1"
leftovers() { find "$RTMP" -mindepth 1 -maxdepth 1 | sort; }
counts() {  # FILE.json -> "total different target_miss target_more" of the run
  python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))["consistency_result"]
print(*[sum(d["num_" + k + "_files"] for d in r)
        for k in ("total", "different", "target_miss", "target_more")])' "$1" 2>/dev/null ||
    echo "unparsable"
}

# 1. Without --push-agent the check cannot run: exit 2 naming the missing agent.
timeout "$TMO" "$AGENT" verify "${OPTS[@]}" "$SRC" "$TARGET" > "$TMP/nopush.json" 2> "$TMP/nopush.err"
rc=$?
if [[ $rc == 2 ]]; then pass "without --push-agent: exit 2 ($(tr '\n' ' ' < "$TMP/nopush.err" | head -c 160))"
else fail "without --push-agent: exit $rc, expected 2"; fi

# 2. A stale leftover of a dropped connection (2 h old) and a fresh directory of a check that may
#    still be running; the push sweeps the first only.
mkdir -p "$RTMP/sms-agent-push.stale01" "$RTMP/sms-agent-push.fresh01"
touch -d '2 hours ago' "$RTMP/sms-agent-push.stale01"

# 3. --push-agent: the same counts as a local run; nothing pushed is left.
timeout "$TMO" "$AGENT" verify "${OPTS[@]}" --push-agent "$SRC" "$TARGET" > "$TMP/push.json" 2> "$TMP/push.err"
rc=$?
timeout "$TMO" "$AGENT" verify --json --no-progress "$SRC" "$DST" > "$TMP/local.json" 2> "$TMP/local.err"
want=$(counts "$TMP/local.json"); got=$(counts "$TMP/push.json")
if [[ $rc == 1 && "$got" == "$want" && "$want" == "$EXPECT" ]]; then
  pass "--push-agent: exit 1, counts $got as the local run"
else
  fail "--push-agent: exit $rc, counts '$got', local '$want' (expected $EXPECT)"
  sed 's/^/    stderr: /' "$TMP/push.err" | head -10
fi
left=$(leftovers)
if [[ "$left" == "$RTMP/sms-agent-push.fresh01" ]]; then
  pass "pushed agent removed; stale leftover swept, fresh one kept"
else
  fail "remote tmp after the push holds: ${left//$'\n'/ } (expected only sms-agent-push.fresh01)"
fi
rm -rf "$RTMP/sms-agent-push.fresh01"

# 4. The pushed directory is private: watch one while a slow check runs (~8 s per side), then
#    kill the agent and its ssh (SIGKILL: no cleanup of theirs runs, as when the connection drops);
#    the remote shell removes the directory once the remote agent fails on its next write (at the
#    latest when its walk ends: the stream is written in 256 KiB blocks).
# (no `timeout` wrapper: $! must be the agent itself)
"$AGENT" verify "${OPTS[@]}" --push-agent --io-limit 0.1 --threads 1 \
  "$SRC" "$TARGET" > /dev/null 2> "$TMP/killed.err" < /dev/null &
pid=$!
# Wait until the pushed agent runs.
dir="" running=""
for _ in $(seq 1 600); do
  dir=$(find "$RTMP" -mindepth 1 -maxdepth 1 -name 'sms-agent-push.*' | head -1)
  [[ -n "$dir" ]] && running=$(pgrep -f -- "^$dir/sms-agent manifest" | head -1)
  [[ -n "$running" ]] && break
  sleep 0.1
done
if [[ -n "$running" ]]; then
  mode=$(stat -c %a "$dir")
  [[ "$mode" == 700 ]] && pass "pushed directory $dir has mode 0700" ||
    fail "pushed directory $dir has mode $mode, expected 700"
  cmp -s "$dir/sms-agent" "$STATIC" && pass "pushed agent is byte-identical to $STATIC" ||
    fail "pushed agent differs from $STATIC"
  ssh_pids=$(ps -o pid= --ppid "$pid")
  kill -KILL "$pid" $ssh_pids 2>/dev/null
  wait "$pid" 2>/dev/null
  for _ in $(seq 1 600); do [[ -e "$dir" ]] || break; sleep 0.1; done
  if [[ ! -e "$dir" ]]; then pass "agent and ssh killed mid-check: the target removed $dir itself"
  else fail "agent and ssh killed mid-check: $dir still there after 60 s"; fi
else
  fail "no pushed agent ran under $RTMP during a slow check (dir: '$dir')"
  kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
fi

# 5. An agent of another version where --remote-agent points is never used silently: the static
#    agent is pushed instead and the report says why.
cat > "$TMP/old-agent" <<'EOF'
#!/bin/sh
[ "$1" = --version ] && { echo 0.0.9; exit 0; }
echo "old agent must not run" >&2; exit 9
EOF
chmod +x "$TMP/old-agent"
timeout "$TMO" "$AGENT" verify "${OPTS[@]}" --push-agent --remote-agent "$TMP/old-agent" \
  "$SRC" "$TARGET" > "$TMP/old.json" 2> "$TMP/old.err"
rc=$?
if [[ $rc == 1 && "$(counts "$TMP/old.json")" == "$EXPECT" ]] &&
   grep -q 'is version 0.0.9, not' "$TMP/old.err"; then
  pass "agent 0.0.9 on the target: static agent pushed instead, with a warning"
else
  fail "agent 0.0.9 on the target: exit $rc; stderr: $(head -c 300 "$TMP/old.err")"
fi
[[ -z "$(leftovers)" ]] && pass "nothing left under the remote tmp" ||
  fail "left under the remote tmp: $(leftovers | tr '\n' ' ')"

# 6. An agent of this version on the target is used as installed, nothing pushed.
cat > "$TMP/same-agent" <<EOF
#!/bin/sh
[ "\$1" = --version ] && { echo '$("$AGENT" --version)'; exit 0; }
exec "$AGENT" "\$@"
EOF
chmod +x "$TMP/same-agent"
timeout "$TMO" "$AGENT" verify "${OPTS[@]}" --push-agent --static-agent /nonexistent \
  --remote-agent "$TMP/same-agent" "$SRC" "$TARGET" > "$TMP/same.json" 2> "$TMP/same.err"
rc=$?
[[ $rc == 1 && "$(counts "$TMP/same.json")" == "$EXPECT" ]] &&
  pass "agent of this version on the target: used, nothing pushed" ||
  fail "agent of this version on the target: exit $rc; stderr: $(head -c 300 "$TMP/same.err")"

# 7. No static agent to push: a clear error before anything is copied.
timeout "$TMO" "$AGENT" verify "${OPTS[@]}" --push-agent --static-agent "$TMP/none" \
  "$SRC" "$TARGET" > /dev/null 2> "$TMP/nostatic.err"
rc=$?
[[ $rc == 2 ]] && grep -q -- "--static-agent $TMP/none" "$TMP/nostatic.err" &&
  pass "missing --static-agent: exit 2 naming it" ||
  fail "missing --static-agent: exit $rc; stderr: $(head -c 300 "$TMP/nostatic.err")"

if [[ $FAILS == 0 ]]; then echo "PASS push_agent"; exit 0; fi
echo "FAIL push_agent: $FAILS check(s) failed"; exit 1
