#!/usr/bin/env bash
# `make run`: verifies a demo pair of trees with known differences and shows
# the report, the per-directory JSON and the list of differing paths.
set -euo pipefail
build=${1:-build}
agent="$build/bin/sms-agent"
demo=var/demo
mkdir -p "$demo"
scripts/demo_trees.sh "$demo" >/dev/null
echo "== sms-agent verify $demo/source $demo/target --dir /etc --dir /var/www --dir /home"
set +e
"$agent" verify "$demo/source" "$demo/target" --dir /etc --dir /var/www --dir /home \
  --list "$demo/list.txt"
code=$?
set -e
echo "(exit code $code: 0 consistent, 1 differences, 2 error)"
echo
echo "== differing paths ($demo/list.txt, '=' lines omitted)"
grep -v '^= ' "$demo/list.txt" || true
echo
echo "== the same run as JSON (the SMS consistency_result shape)"
"$agent" verify "$demo/source" "$demo/target" --dir /etc --dir /var/www --dir /home \
  --json | python3 -m json.tool || true
echo
echo "Try it yourself:"
echo "  $agent verify --help"
echo "  $agent verify $demo/source $demo/target --list - --list-format jsonl"
