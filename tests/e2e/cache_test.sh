#!/usr/bin/env bash
# End-to-end (issue 12): `sms-agent verify` with hash caches on both sides, the source local and
# the target through ssh:// against a real sshd on loopback. A second check of an unchanged tree
# must reuse >= 99% of the digests on both sides and report exactly what the first did; after
# edits that keep size and mtime (touch -r), a same-size same-mtime file renamed over another, and
# a rewrite right after a check, a cached check must report exactly what a full check (--no-cache)
# reports; a truncated or foreign cache, or one of another hash algorithm, is ignored with a
# warning; --only-paths re-checks the differences of a list and sees one of them resolved.
#
# usage: tests/e2e/cache_test.sh BUILD_DIR
#   env: SMS_SHARED_DIR  the shared kit (default ../shared next to the repository)
#        SMS_E2E_FILES   files in the generated tree (default 3000)
#        SMS_KEEP_TMP=1  keep the temporary directory (always kept on failure)
# Exit: 0 passed, 1 a check failed, 77 skipped (no gen_tree.py).
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../support/e2e.sh"
e2e_build_dir "$@"
AGENT="$BUILD/bin/sms-agent"
NFILES=${SMS_E2E_FILES:-3000}
TMO=300

[[ -x "$AGENT" ]] || { echo "FAIL $AGENT not found (build first)"; exit 1; }
[[ -f "$GEN" ]] || { echo "SKIP $GEN not found (set SMS_SHARED_DIR)"; exit 77; }
[[ -x /usr/sbin/sshd ]] || { echo "FAIL /usr/sbin/sshd not installed (scripts/bootstrap.sh)"; exit 1; }

e2e_tmp sms-cache-e2e
e2e_trees
# Digests taken within the racy window of a file's last change are not trusted: let the newest
# files of the generator age past it.
sleep 1
pass "generated $NFILES-file tree pair"

e2e_sshd || exit 1
TARGET="ssh://sms-test$DST"
CACHE="$TMP/cache"
RCACHE="$TMP/remote-cache"
SSH_ARGS=(--remote-agent "$AGENT" --ssh-option -F --ssh-option "$SSHD_STATE/ssh_config")
CACHED=(--cache-dir "$CACHE" --remote-cache-dir "$RCACHE")

# run NAME ARGS...: verify SRC against the ssh target; writes $TMP/NAME.{json,list,err}
run() {
  local name=$1 rc; shift
  timeout "$TMO" "$AGENT" verify --json --list "$TMP/$name.list" "${SSH_ARGS[@]}" "$@" \
    "$SRC" "$TARGET" > "$TMP/$name.json" 2> "$TMP/$name.err" < /dev/null
  rc=$?
  if [[ $rc == 1 ]]; then
    pass "$name: exit 1 (differences found)"
  else
    fail "$name: exit $rc, expected 1"; sed 's/^/    stderr: /' "$TMP/$name.err" | head -10
  fi
}
# reuse NAME MIN_PERCENT: the share of regular files whose digest came from each side's cache
reuse() {
  python3 - "$TMP/$1.json" "$SRC" "$DST" "$2" "$1" <<'EOF' || FAILS=$((FAILS + 1))
import json, os, sys
res, src, dst, want, name = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
d = json.load(open(res))["consistency_result"]
def regular(root):
    n = 0
    for top, dirs, files in os.walk(root):
        n += sum(1 for f in files if os.path.isfile(os.path.join(top, f)) and not os.path.islink(os.path.join(top, f)))
    return n
ok = True
for side, key, root in (("source", "num_cached_files", src), ("target", "num_target_cached_files", dst)):
    got, total = sum(x[key] for x in d), regular(root)
    pct = 100.0 * got / max(total, 1)
    good = pct >= want if want > 0 else got == 0
    ok &= good
    print("%s %s: %s reused %d of %d digests (%.2f%%, %s)" % ("PASS" if good else "FAIL", name, side, got, total, pct,
          ">= %.0f%% wanted" % want if want > 0 else "none wanted"))
sys.exit(0 if ok else 1)
EOF
}
warned() {  # warned NAME TEXT: stderr of NAME says TEXT
  if grep -q -- "$2" "$TMP/$1.err"; then pass "$1: warns '$2'"; else
    fail "$1: no warning '$2'"; sed 's/^/    stderr: /' "$TMP/$1.err" | head -5; fi
}
listed() {  # listed NAME SIGIL PATH: the text list of NAME has "SIGIL PATH"
  if grep -qxF -- "$2 $3" "$TMP/$1.list"; then pass "$1: lists '$2 $3'"; else
    fail "$1: does not list '$2 $3' ($(grep -F -- " $3" "$TMP/$1.list" | head -1))"; fi
}

# ---- an unchanged tree -------------------------------------------------------------------------
run full --no-cache
python3 "$CHECK" truth "$DATA" "$TMP/full.json" "$TMP/full.list" --label "full check = truth" ||
  FAILS=$((FAILS + 1))
run first "${CACHED[@]}" --rehash-fraction 0
same full first
reuse first 0
run second "${CACHED[@]}" --rehash-fraction 0
same full second
reuse second 99
run third "${CACHED[@]}"   # the default 1% re-read
same full third
reuse third 97
ls "$CACHE"/source-*.smscache "$RCACHE"/target-*.smscache > /dev/null 2>&1 &&
  pass "the source's cache is in --cache-dir, the target's in --remote-cache-dir" ||
  fail "cache files missing: $(ls -R "$CACHE" "$RCACHE" 2>&1 | tr '\n' ' ')"

# ---- edits a cache must not hide ---------------------------------------------------------------
# Files equal on both sides, from the full check's list.
mapfile -t EQUAL < <(grep -a '^= ' "$TMP/full.list" | cut -c3- | grep -v '/$' |
  while IFS= read -r p; do [[ -f "$SRC/$p" && ! -L "$SRC/$p" && -s "$SRC/$p" && "$p" != *\\* ]] && echo "$p"; done | head -3)
[[ ${#EQUAL[@]} == 3 ]] || { fail "found ${#EQUAL[@]} equal files to edit, wanted 3"; exit 1; }
P1=${EQUAL[0]} P2=${EQUAL[1]} P3=${EQUAL[2]}
# 1. target content changed, size kept, mtime restored (touch -r)
cp -p "$DST/$P1" "$TMP/p1.orig"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[0]^=1; open(p,"r+b").write(b)' "$DST/$P1"
touch -r "$TMP/p1.orig" "$DST/$P1"
# 2. source file replaced by another of the same size and mtime (a new inode)
python3 -c 'import sys; p,q=sys.argv[1:3]; b=bytearray(open(p,"rb").read()); b[-1]^=1; open(q,"wb").write(b)' "$SRC/$P2" "$TMP/p2.new"
touch -r "$SRC/$P2" "$TMP/p2.new"
mv "$TMP/p2.new" "$SRC/$P2.tmp" && touch -r "$DST/$P2" "$SRC/$P2.tmp" && mv "$SRC/$P2.tmp" "$SRC/$P2"
run edited "${CACHED[@]}" --rehash-fraction 0
run edited_full --no-cache
same edited_full edited
listed edited '*' "$P1"
listed edited '*' "$P2"
# 3. a rewrite right after a check (same size, mtime put back) is read again
run before_rewrite "${CACHED[@]}" --rehash-fraction 0
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[0]^=2; open(p,"r+b").write(b)' "$SRC/$P3"
touch -r "$DST/$P3" "$SRC/$P3"
run rewritten "${CACHED[@]}" --rehash-fraction 0
run rewritten_full --no-cache
same rewritten_full rewritten
listed rewritten '*' "$P3"

# ---- caches that must not be trusted -----------------------------------------------------------
SC=$(ls "$CACHE"/source-*.smscache) TC=$(ls "$RCACHE"/target-*.smscache)
truncate -s $(( $(stat -c %s "$SC") / 2 )) "$SC"
printf 'not a cache at all\n' > "$TC"
run untrusted "${CACHED[@]}" --rehash-fraction 0
same rewritten_full untrusted
reuse untrusted 0
warned untrusted "source: hash cache .* is truncated or corrupted"
warned untrusted "target: hash cache .* is not a hash cache"
run refilled "${CACHED[@]}" --rehash-fraction 0
reuse refilled 99
run sha256 "${CACHED[@]}" --hash sha256
same rewritten_full sha256 --any-algorithm
reuse sha256 0
warned sha256 "was written for xxh128, this check uses sha256"

# ---- --only-paths: the differences of a list, again ----------------------------------------------
run recheck --only-paths "$TMP/rewritten_full.list"
grep -av '^= ' "$TMP/rewritten_full.list" > "$TMP/diffs.expected"
grep -av '^= ' "$TMP/recheck.list" > "$TMP/diffs.got"
if cmp -s "$TMP/diffs.expected" "$TMP/diffs.got"; then
  pass "recheck: the same $(wc -l < "$TMP/diffs.got") differences as the full check"
else
  fail "recheck: other differences than the full check"; diff "$TMP/diffs.expected" "$TMP/diffs.got" | head -10
fi
cp -p "$SRC/$P3" "$DST/$P3"   # resolve one
run recheck2 --only-paths "$TMP/rewritten_full.list"
listed recheck2 '=' "$P3"
if [[ $(grep -avc '^= ' "$TMP/recheck2.list") == $(( $(wc -l < "$TMP/diffs.expected") - 1 )) ]]; then
  pass "recheck2: one difference fewer"
else
  fail "recheck2: $(grep -avc '^= ' "$TMP/recheck2.list") differences, wanted $(( $(wc -l < "$TMP/diffs.expected") - 1 ))"
fi

if [[ $FAILS == 0 ]]; then echo "PASS cache_test: all checks"; exit 0; fi
echo "FAIL cache_test: $FAILS failure(s)"
exit 1
