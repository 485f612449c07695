# shellcheck shell=bash disable=SC2034  # sourced: the variables are for the caller
# What the shell end-to-end tests share (tests/e2e/verify_truth.sh, cache_test.sh,
# push_agent_test.sh): PASS/FAIL bookkeeping, a temporary directory kept on failure, the
# tree pair of gen_tree.py and an sshd on loopback for ssh:// targets. Source it, then:
#   e2e_build_dir "$@"  BUILD: the absolute build directory named by $1
#   e2e_tmp NAME        TMP (a new directory NAME.XXXXXX) and SSHD_STATE; at exit sshd is
#                       stopped and TMP removed, unless a check failed or SMS_KEEP_TMP=1
#   e2e_trees           DATA, SRC, DST: the generated tree pair of $NFILES files (exit 1 if not)
#   e2e_sshd            sshd on 127.0.0.1 with its state in SSHD_STATE (1 if it did not start)
#   same A B [ARGS...]  B reported exactly what A did ($TMP/{A,B}.{json,list})
# It sets REPO, GEN (the shared kit's gen_tree.py, SMS_SHARED_DIR), CHECK and SSHD_SH.

E2E_SUPPORT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$E2E_SUPPORT/../.." && pwd -P)
GEN="${SMS_SHARED_DIR:-$REPO/../shared}/bench/gen_tree.py"
CHECK="$REPO/tests/e2e/check_truth.py"
SSHD_SH="$E2E_SUPPORT/sshd.sh"

FAILS=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

e2e_build_dir() {
  [[ $# -ge 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
  BUILD=$(cd "$1" 2>/dev/null && pwd -P) || { echo "FAIL build dir $1 not found" >&2; exit 1; }
}

e2e_cleanup() {
  "$SSHD_SH" stop "$SSHD_STATE" >/dev/null 2>&1 || true
  # Removed on every way out, a failure too (the FAIL lines say why);
  # SMS_KEEP_TMP=1 keeps it to read its files.
  if [[ "${SMS_KEEP_TMP:-0}" == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}

e2e_tmp() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  SSHD_STATE="$TMP/sshd"
  trap e2e_cleanup EXIT
  trap 'echo "FAIL interrupted"; FAILS=$((FAILS + 1)); exit 1' INT TERM
}

e2e_trees() {
  DATA="$TMP/data"
  python3 "$GEN" --out "$DATA" --files "$NFILES" --awkward --symlinks 4 --empty-dirs 3 \
    > "$TMP/gen.out" 2>&1 || { fail "gen_tree.py: $(tail -3 "$TMP/gen.out")"; exit 1; }
  SRC="$DATA/src"; DST="$DATA/dst"
}

e2e_sshd() {
  SSHD_OWNER_PID=$$ "$SSHD_SH" start "$SSHD_STATE" > "$TMP/sshd_start.out" 2>&1 ||
    { fail "sshd did not start: $(tail -5 "$TMP/sshd_start.out")"; return 1; }
  pass "sshd on 127.0.0.1:$(cat "$SSHD_STATE/port")"
}

same() {
  python3 "$CHECK" same "$TMP/$1.json" "$TMP/$1.list" "$TMP/$2.json" "$TMP/$2.list" \
    --label "$2 = $1" "${@:3}" || FAILS=$((FAILS + 1))
}
