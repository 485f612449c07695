#!/usr/bin/env bash
# End-to-end: `sms-agent verify` on a generated tree pair with known answers, locally and through
# ssh:// against a real sshd on loopback; the counts and the list must equal the truth, and the
# ssh:// run must report exactly what the local run reports.
#
# usage: tests/e2e/verify_truth.sh BUILD_DIR
#   env: SMS_SHARED_DIR   the shared kit (default: ../shared next to the repository);
#                         the tree generator is $SMS_SHARED_DIR/bench/gen_tree.py
#        SMS_E2E_FILES    files in the generated tree (default 3000)
#        SMS_KEEP_TMP=1   keep the temporary directory (it is always kept on failure)
#        SMS_AGENT_BIN    the agent to test (default: BUILD_DIR/bin/sms-agent)
# Exit: 0 all passed, 1 a check failed, 77 skipped: the shared kit (gen_tree.py) is not there
#       (register with ctest's SKIP_RETURN_CODE 77).
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../support/e2e.sh"
e2e_build_dir "$@"
AGENT="${SMS_AGENT_BIN:-$BUILD/bin/sms-agent}"
NFILES=${SMS_E2E_FILES:-3000}
TMO=300

[[ -x "$AGENT" ]] || { echo "FAIL $AGENT not found or not executable (build first)"; exit 1; }
[[ -f "$GEN" ]] || { echo "SKIP $GEN not found (set SMS_SHARED_DIR to the shared kit)"; exit 77; }

e2e_tmp sms-e2e

# ---- the tree pair ------------------------------------------------------------------
e2e_trees
pass "generated $NFILES-file tree pair in $DATA"

# run_verify NAME EXTRA_ARGS... -- SOURCE TARGET: writes $TMP/NAME.{json,list,err,rc}
run_verify() {
  local name=$1; shift
  local rc
  timeout "$TMO" "$AGENT" verify --json --list "$TMP/$name.list" --list-format text "$@" \
    > "$TMP/$name.json" 2> "$TMP/$name.err" < /dev/null
  rc=$?
  echo "$rc" > "$TMP/$name.rc"
  if [[ $rc == 1 ]]; then
    pass "$name: exit code 1 (differences found)"
  else
    fail "$name: exit code $rc, expected 1"
    sed 's/^/    stderr: /' "$TMP/$name.err" | head -20
    head -c 2000 "$TMP/$name.json" | sed 's/^/    stdout: /'
    return 1
  fi
}

# check NAME MODE: counts and list against the truth
check() {
  python3 "$CHECK" truth "$DATA" "$TMP/$1.json" "$TMP/$1.list" --mode "$2" --label "$1" ||
    FAILS=$((FAILS + 1))
}

# ---- local ----------------------------------------------------------------------------
run_verify local_hash "$SRC" "$DST" && check local_hash hash
run_verify local_quick --mode quick "$SRC" "$DST" && check local_quick quick
# Every directory of more than 2 entries sorted through a temp file (issue 14.4): the same report.
run_verify local_spill --spill-threshold 2 --spill-dir "$TMP" "$SRC" "$DST" && check local_spill hash &&
  same local_hash local_spill

# ---- ssh:// against a real sshd on loopback -------------------------------------------
if [[ ! -x /usr/sbin/sshd ]]; then
  fail "ssh:// part: /usr/sbin/sshd not installed (scripts/bootstrap.sh installs openssh-server)"
  echo "FAIL verify_truth: $FAILS failure(s)"; exit 1
fi
e2e_sshd || { echo "FAIL verify_truth: $FAILS failure(s)"; exit 1; }
SSH_ARGS=(--remote-agent "$AGENT" --ssh-option -F --ssh-option "$SSHD_STATE/ssh_config")
TARGET="ssh://sms-test$DST"

run_verify ssh_hash "${SSH_ARGS[@]}" "$SRC" "$TARGET" && check ssh_hash hash && same local_hash ssh_hash
run_verify ssh_quick --mode quick "${SSH_ARGS[@]}" "$SRC" "$TARGET" && check ssh_quick quick &&
  same local_quick ssh_quick
# The target's manifest with its directories spilled (the threshold goes to the remote agent).
run_verify ssh_spill --spill-threshold 2 --remote-tmp "$TMP" "${SSH_ARGS[@]}" "$SRC" "$TARGET" &&
  check ssh_spill hash && same local_hash ssh_spill

# A spill directory that does not exist, here and on the target: exit 2, the error names it.
expect_spill_error() {
  local name=$1 rc; shift
  timeout "$TMO" "$AGENT" verify --json "$@" > "$TMP/$name.json" 2> "$TMP/$name.err" < /dev/null
  rc=$?
  if [[ $rc == 2 ]] && grep -q "temp file in $TMP/no-such-dir" "$TMP/$name.err"; then
    pass "$name: exit code 2 naming the spill directory ($(head -c 300 "$TMP/$name.err" | tr '\n' ' '))"
  else
    fail "$name: exit code $rc, expected 2 and an error naming $TMP/no-such-dir"
    sed 's/^/    stderr: /' "$TMP/$name.err" | head -10
  fi
}
expect_spill_error local_spill_missing --spill-threshold 2 --spill-dir "$TMP/no-such-dir" "$SRC" "$DST"
expect_spill_error ssh_spill_missing --spill-threshold 2 --remote-tmp "$TMP/no-such-dir" \
  "${SSH_ARGS[@]}" "$SRC" "$TARGET"

# A remote agent that does not exist: the check cannot be done -> exit 2, no counts.
timeout "$TMO" "$AGENT" verify --json --remote-agent "$TMP/no-such-agent" \
  --ssh-option -F --ssh-option "$SSHD_STATE/ssh_config" "$SRC" "$TARGET" \
  > "$TMP/ssh_noagent.json" 2> "$TMP/ssh_noagent.err" < /dev/null
rc=$?
if [[ $rc == 2 ]]; then
  pass "ssh_noagent: exit code 2 when the remote agent is missing ($(head -c 200 "$TMP/ssh_noagent.err" | tr '\n' ' '))"
else
  fail "ssh_noagent: exit code $rc, expected 2"
  sed 's/^/    stderr: /' "$TMP/ssh_noagent.err" | head -10
fi

# ---- verdict ----------------------------------------------------------------------------
if [[ $FAILS == 0 ]]; then
  echo "PASS verify_truth: local and ssh:// runs equal the truth"
  exit 0
fi
echo "FAIL verify_truth: $FAILS failure(s)"
exit 1
