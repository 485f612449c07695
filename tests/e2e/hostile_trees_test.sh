#!/usr/bin/env bash
# End-to-end: `sms-agent verify` on hostile tree pairs (tests/e2e/hostile_trees.py: awkward
# names, paths past PATH_MAX, symlinks, hard links, special and sparse files, type swaps,
# metadata differences, unreadable files and directories, mount points), locally and through
# a real sshd on loopback, with and without a hash cache; every list must name exactly the
# expected paths, and every list --list writes must come back through --only-paths.
#
# usage: tests/e2e/hostile_trees_test.sh BUILD_DIR
#   env: SMS_KEEP_TMP=1   keep the temporary directory
#        SMS_AGENT_BIN    the agent to test (default: BUILD_DIR/bin/sms-agent)
#        SMS_E2E_TIMEOUT  seconds one verify may take (default 300)
# Needs root (chown, mknod; the permission cases run as nobody through setpriv; the mount
# cases mount a tmpfs and a proc). Exit: 0 passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../support/e2e.sh"
e2e_build_dir "$@"
AGENT="${SMS_AGENT_BIN:-$BUILD/bin/sms-agent}"
TREES="$REPO/tests/e2e/hostile_trees.py"
TMO=${SMS_E2E_TIMEOUT:-300}

[[ -x "$AGENT" ]] || { echo "FAIL $AGENT not found or not executable (build first)"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "SKIP hostile_trees needs root (chown, mknod, mount)"; exit 77; }

e2e_tmp sms-hostile
MOUNTS=()
hostile_cleanup() {
  local m
  # Unmounted before the directory is removed: rm -rf must never walk into a live /proc.
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  e2e_cleanup
}
trap hostile_cleanup EXIT

for side in a b; do
  python3 "$TREES" names "$TMP/names/$side" "$side" &&
    python3 "$TREES" perms "$TMP/perms/$side" "$side" ||
    { fail "hostile_trees.py could not make the trees"; exit 1; }
done
S="$TMP/names/a" D="$TMP/names/b"
pass "hostile tree pairs in $TMP"

# run NAME EXPECTED_RC ARGS...: writes $TMP/NAME.{out,err,rc}
run() {
  local name=$1 want=$2 rc; shift 2
  timeout "$TMO" "$AGENT" verify --no-progress "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" < /dev/null
  rc=$?
  echo "$rc" > "$TMP/$name.rc"
  if [[ $rc != "$want" ]]; then
    fail "$name: exit code $rc, expected $want"
    sed 's/^/    stderr: /' "$TMP/$name.err" | head -10
    return 1
  fi
}

# listed NAME KIND: the list $TMP/NAME.list without its '=' lines is exactly hostile_trees.py's
# expected list KIND.
listed() {
  python3 "$TREES" expect "$2" > "$TMP/$1.expected"
  grep -av '^= ' "$TMP/$1.list" | LC_ALL=C sort > "$TMP/$1.got"
  if cmp -s "$TMP/$1.got" "$TMP/$1.expected"; then
    pass "$1: lists exactly the expected $(wc -l < "$TMP/$1.expected") paths"
  else
    fail "$1: the list differs from the expected (< got, > expected)"
    diff "$TMP/$1.got" "$TMP/$1.expected" | cut -c1-160 | head -20
  fi
}

# same_list A B: the two lists name the same paths with the same sigils.
same_list() {
  if cmp -s <(grep -av '^= ' "$TMP/$1.list") <(grep -av '^= ' "$TMP/$2.list"); then
    pass "$2: the same list as $1"
  else
    fail "$2: another list than $1"
    diff <(grep -av '^= ' "$TMP/$1.list") <(grep -av '^= ' "$TMP/$2.list") | cut -c1-160 | head
  fi
}

# ---- local --------------------------------------------------------------------------------
run local 1 --list "$TMP/local.list" "$S" "$D" && listed local names
run local_meta 1 --metadata --list "$TMP/local_meta.list" "$S" "$D" &&
  listed local_meta names-metadata
run local_quick 1 --mode quick --list "$TMP/local_quick.list" "$S" "$D" &&
  listed local_quick names-quick

# Round trips: what --list wrote (text with its escapes, jsonl with path_b64) checks again
# exactly the paths it named.
run recheck_text 1 --only-paths "$TMP/local.list" --list "$TMP/recheck_text.list" "$S" "$D" &&
  same_list local recheck_text
run local_jsonl 1 --list "$TMP/local.jsonl" --list-format jsonl "$S" "$D" &&
  run recheck_jsonl 1 --only-paths "$TMP/local.jsonl" --list "$TMP/recheck_jsonl.list" "$S" "$D" &&
  same_list local recheck_jsonl
if grep -aq '"path_b64"' "$TMP/local.jsonl" && grep -aq '"mtime_ns"' "$TMP/local.jsonl"; then
  pass "local_jsonl: a non-UTF-8 name has its path_b64, each side its mtime_ns"
else
  fail "local_jsonl: no path_b64 or no mtime_ns"
fi

# The hash cache: a second check reuses digests and says the same; two checks sharing one
# cache directory at once both say it too.
mkdir -p "$TMP/cache"
run cache1 1 --cache-dir "$TMP/cache" --list "$TMP/cache1.list" "$S" "$D" &&
  run cache2 1 --cache-dir "$TMP/cache" --json --list "$TMP/cache2.list" "$S" "$D" &&
  same_list local cache1 && same_list local cache2 &&
  if python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["consistency_result"][0]
sys.exit(0 if d["num_cached_files"] > 0 and d["num_target_cached_files"] > 0 else 1)' \
    "$TMP/cache2.out"; then
    pass "cache2: digests reused on both sides"
  else
    fail "cache2: no digest reused ($(head -c 300 "$TMP/cache2.out"))"
  fi
run shared1 1 --cache-dir "$TMP/cache" --list "$TMP/shared1.list" "$S" "$D" &
run shared2 1 --cache-dir "$TMP/cache" --list "$TMP/shared2.list" "$S" "$D"
wait
same_list local shared1
same_list local shared2
if [[ -n $(find "$TMP/cache" -name '*.tmp.*') ]]; then
  fail "shared cache: temporary files left: $(ls "$TMP/cache")"
fi

# ---- permissions, as a user who cannot read everything ------------------------------------
chmod 755 "$TMP"
cp "$AGENT" "$TMP/agent-copy" && chmod 755 "$TMP/agent-copy"
timeout "$TMO" setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/agent-copy" verify \
  --no-progress --list - "$TMP/perms/a" "$TMP/perms/b" > "$TMP/perms.list" 2> "$TMP/perms.err"
rc=$?
if [[ $rc == 1 ]]; then
  listed perms perms
  grep -q '^= ok/f$' "$TMP/perms.list" && pass "perms: the readable file is equal" ||
    fail "perms: ok/f is not listed equal"
  # The re-check of that list names the same errors, the directories too (an lstat alone
  # found them directories on both sides, and the re-check said nothing of them).
  timeout "$TMO" setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/agent-copy" verify \
    --no-progress --only-paths "$TMP/perms.list" --list - "$TMP/perms/a" "$TMP/perms/b" \
    > "$TMP/perms_recheck.list" 2> "$TMP/perms_recheck.err"
  same_list perms perms_recheck
else
  fail "perms: exit code $rc as nobody, expected 1"; head -5 "$TMP/perms.err"
fi

# ---- mount points -------------------------------------------------------------------------
# A tmpfs mounted under the source is walked (as rsync and find do without -x): its file is
# compared with the target's plain directory. A proc mounted under the source is compared as
# a directory and not entered (/proc/kmsg blocks a read forever), with a warning naming it.
M="$TMP/mounts"
mkdir -p "$M/a/data" "$M/a/proc" "$M/b/data" "$M/b/proc"
echo same > "$M/b/data/f"
if mount -t tmpfs -o size=1m tmpfs "$M/a/data" 2>/dev/null; then
  MOUNTS+=("$M/a/data")
  echo same > "$M/a/data/f"
  if mount -t proc proc "$M/a/proc" 2>/dev/null; then
    MOUNTS=("$M/a/proc" "${MOUNTS[@]}")
    run mounts 0 --list "$TMP/mounts.list" "$M/a" "$M/b" &&
      grep -q '^= data/f$' "$TMP/mounts.list" &&
      grep -q "not entering $M/a/proc: a proc file system" "$TMP/mounts.err" &&
      pass "mounts: tmpfs walked, proc not entered ($(head -1 "$TMP/mounts.err"))" ||
      fail "mounts: $(cat "$TMP/mounts.list" "$TMP/mounts.err" | head -5)"
    # A list written by hand naming /proc/kmsg: not read either.
    printf 'proc/kmsg\ndata/f\n' > "$TMP/mounts.paths"
    run mounts_listed 0 --only-paths "$TMP/mounts.paths" --list "$TMP/mounts_listed.list" \
      "$M/a" "$M/b" && grep -q "not checking the listed paths under $M/a/proc" \
      "$TMP/mounts_listed.err" && pass "mounts_listed: proc/kmsg not read" ||
      fail "mounts_listed: $(cat "$TMP/mounts_listed.list" "$TMP/mounts_listed.err" | head -5)"
  else
    echo "SKIP mounts: cannot mount proc here"
  fi
else
  echo "SKIP mounts: cannot mount a tmpfs here"
fi

# ---- ssh:// against a real sshd on loopback -------------------------------------------------
if [[ ! -x /usr/sbin/sshd ]]; then
  fail "ssh:// part: /usr/sbin/sshd not installed (scripts/bootstrap.sh installs openssh-server)"
else
  e2e_sshd && {
    SSH=(--remote-agent "$AGENT" --ssh-option -F --ssh-option "$SSHD_STATE/ssh_config")
    T="ssh://sms-test$D"
    run ssh 1 "${SSH[@]}" --list "$TMP/ssh.list" "$S" "$T" && listed ssh names
    run ssh_meta 1 "${SSH[@]}" --metadata --list "$TMP/ssh_meta.list" "$S" "$T" &&
      listed ssh_meta names-metadata
    run ssh_recheck 1 "${SSH[@]}" --only-paths "$TMP/local.jsonl" \
      --list "$TMP/ssh_recheck.list" "$S" "$T" && same_list local ssh_recheck
    run ssh_cache1 1 "${SSH[@]}" --cache-dir "$TMP/cache" --remote-cache-dir "$TMP/rcache" \
      --list "$TMP/ssh_cache1.list" "$S" "$T" && same_list local ssh_cache1
    run ssh_cache2 1 "${SSH[@]}" --cache-dir "$TMP/cache" --remote-cache-dir "$TMP/rcache" \
      --list "$TMP/ssh_cache2.list" "$S" "$T" && same_list local ssh_cache2
  }
fi

if [[ $FAILS == 0 ]]; then
  echo "PASS hostile_trees: every verdict as expected, locally and over ssh"
  exit 0
fi
echo "FAIL hostile_trees: $FAILS failure(s)"
exit 1
