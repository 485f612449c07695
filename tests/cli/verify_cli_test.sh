#!/usr/bin/env bash
# sms-agent verify as a user meets it: exit codes, error messages that name
# the problem, list formats, --dir counters, excludes, quick mode.
# usage: verify_cli_test.sh BUILD_DIR
set -uo pipefail
agent="$(cd "$1" && pwd)/bin/sms-agent"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); else echo "FAIL $name"; fails=$((fails + 1)); fi
}
run() {  # run ARGS... -> $out $err $code
  out=$("$agent" "$@" 2>"$tmp/err"); code=$?; err=$(cat "$tmp/err")
}

s="$tmp/s"; t="$tmp/t"
mkdir -p "$s/etc" "$s/var/log" "$t/etc" "$t/var/log"
echo a > "$s/etc/a"; echo a > "$t/etc/a"
# Same content, same mtime: quick mode (size + mtime) must call it equal
# however far apart the two writes were.
touch -r "$s/etc/a" "$t/etc/a"
echo log > "$s/var/log/x.log"; echo other > "$t/var/log/x.log"
printf 'b' > "$s/etc/$(printf 'bad\xff')"; printf 'c' > "$t/etc/$(printf 'bad\xff')"
touch -r "$s/etc/$(printf 'bad\xff')" "$t/etc/$(printf 'bad\xff')"

run verify "$s" "$t" --dir /etc --no-progress
check "differences give exit 1" [ "$code" = 1 ]
check "summary names the directory" grep -q "^/etc" <<<"$out"

run verify "$s" "$t" --dir /etc --exclude "bad*"
check "consistent gives exit 0" [ "$code" = 0 ]
check "consistent summary" grep -q CONSISTENT <<<"$out"

run verify "$tmp/nope" "$t"
check "missing source gives exit 2" [ "$code" = 2 ]
check "missing source is named" grep -q "$tmp/nope: No such file or directory" <<<"$err"

run verify "$s" "$tmp/nope"
check "missing target gives exit 2" [ "$code" = 2 ]
check "missing target is named" grep -q "target $tmp/nope" <<<"$err"

run verify "$s" "$t" --dir etc
check "relative --dir gives exit 2" [ "$code" = 2 ]
check "relative --dir is named" grep -q "'etc' is not an absolute path" <<<"$err"

run verify "$s" "$t" --dir /nothing-here
check "--dir missing on the source gives exit 2" [ "$code" = 2 ]
check "--dir missing on the source is named" grep -q "/nothing-here" <<<"$err"

run verify --mode bogus "$s" "$t"
check "bad --mode gives exit 2" [ "$code" = 2 ]
check "bad --mode is named" grep -q -- "--mode" <<<"$err"

run verify "$s" ssh://
check "bad ssh URL gives exit 2" [ "$code" = 2 ]

run verify "$s" "$t" --json
check "json has the SMS fields" python3 -c '
import json,sys
r=json.loads(sys.argv[1]); d=r["consistency_result"][0]
assert r["check_result"]=="success" and r["consistent"] is False
assert d["dir_check"]=="/" and d["num_total_files"]==3 and d["num_different_files"]==2
assert d["num_target_miss_files"]==0 and d["num_target_more_files"]==0
' "$out"

run verify "$s" "$t" --dir /etc --dir /var/log --json
check "one result per --dir" python3 -c '
import json,sys
r=json.loads(sys.argv[1]); ds=[d["dir_check"] for d in r["consistency_result"]]
assert ds==["/etc","/var/log"], ds
assert [d["num_different_files"] for d in r["consistency_result"]]==[1,1]
' "$out"

run verify "$s" "$t" --list - --list-format jsonl
check "jsonl list carries path_b64 for invalid UTF-8" python3 -c '
import json,sys,base64
rows=[json.loads(l) for l in sys.argv[1].splitlines()]
bad=[r for r in rows if "path_b64" in r]
assert len(bad)==1 and base64.b64decode(bad[0]["path_b64"])==b"etc/bad\xff", rows
assert bad[0]["path"]=="etc/bad\\xFF" and bad[0]["status"]=="different"
assert bad[0]["source"]["hash"]!=bad[0]["target"]["hash"]
' "$out"

run verify "$s" "$t" --list - --list-format csv
check "csv list has a header and two rows" [ "$(wc -l <<<"$out")" = 3 ]

run verify "$s" "$t" --mode quick --json
check "quick mode sees the size difference only" python3 -c '
import json,sys
d=json.loads(sys.argv[1])["consistency_result"][0]
assert d["num_different_files"]==1 and d["num_bytes_verified"]==0, d
' "$out"

run verify "$s" "$t" --list "$tmp/no/such/dir/list"
check "unwritable list gives exit 2" [ "$code" = 2 ]

run verify "$s" "$t" --cache-dir "$tmp/cache" --rehash-fraction 2
check "bad --rehash-fraction gives exit 2" [ "$code" = 2 ]
check "bad --rehash-fraction is named" grep -q -- "--rehash-fraction must be a fraction" <<<"$err"

run verify "$s" "$t" --cache-dir "$tmp/cache" --cache-max-age 3w
check "bad --cache-max-age is named" grep -q -- "--cache-max-age must be a duration" <<<"$err"

run verify "$s" "$t" --cache-dir "$tmp/cache" --json
check "--cache-dir writes a cache per side" [ "$(ls "$tmp/cache" | wc -l)" = 2 ]
check "json has the cache counters" python3 -c '
import json,sys
d=json.loads(sys.argv[1])["consistency_result"][0]
assert all(k in d for k in ("num_cached_files","num_bytes_read","num_corrupt_files","num_target_cached_files")), d
' "$out"

run verify --mode quick "$s" "$t"
check "quick mode's summary names what it compares, not a digest" \
  grep -q "^quick mode (size + mtime): " <<<"$out"

out=$(SMS_AGENT_IO_URING=maybe "$agent" verify "$s" "$t" 2>"$tmp/err"); code=$?; err=$(cat "$tmp/err")
check "an unknown SMS_AGENT_IO_URING is refused, exit 2" [ "$code" = 2 ]
check "an unknown SMS_AGENT_IO_URING is named" grep -q "SMS_AGENT_IO_URING: 'maybe'" <<<"$err"
out=$(SMS_AGENT_IO_URING=off "$agent" verify "$s" "$t" 2>"$tmp/err"); code=$?
check "SMS_AGENT_IO_URING=off is taken (plain system calls)" [ "$code" = 1 ]

# The summary of a re-check says it is one (its "files" are the listed ones).
printf 'etc/a\n' > "$tmp/one-path"
run verify "$s" "$t" --only-paths "$tmp/one-path"
check "a re-check's summary says it covers the listed paths only" \
  grep -q "^re-check of the listed paths only (scope inconsistent)" <<<"$out"
run verify "$s" "$t"
check "a full check's summary does not" bash -c '! grep -q "re-check" <<<"$1"' _ "$out"

run verify "$s" "$t" --only-paths "$tmp/no-such-list"
check "missing --only-paths list gives exit 2" [ "$code" = 2 ]
check "missing --only-paths list is named" grep -q "no-such-list" <<<"$err"

echo "$pass passed, $fails failed"
[ "$fails" = 0 ]
