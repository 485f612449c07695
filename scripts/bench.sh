#!/usr/bin/env bash
# Side-by-side benchmark: `sms-agent verify` (hash and quick modes) against rsync, rclone, hashdeep,
# diff and the read/hash floors, on tree pairs with known answers (../shared/bench/gen_tree.py).
#
# usage: scripts/bench.sh BUILD_DIR [SCENARIO...]
#   scenarios: small  100,000 files, ~1 GB a side (~2 GB over both trees)
#              large  40 x 256 MiB over both trees (20 a side, ~10.7 GB)
#              tiny   1,000,000 files of 0..2 KiB (~2 GB over both trees). Beside the agent the
#                     kernel-only floor (bin/sms-disk-floor --ops agent): the agent's own io_uring
#                     opens, reads, fstat and closes of every file, no hashing, no comparison
#                     (FLOOR_WARM_THREADS=4: the agent's two workers a side); and the plain
#                     blocking open + read + close floor with as many threads
#              mini   2,000 files with awkward names and symlinks (a quick smoke run)
#              tiny-cold  the tiny tree with the page cache dropped before every run of
#                         sms-agent and of rsync -rcn (issue 17; needs root); mini-cold: smoke.
#                         Beside them the disk floor (bin/sms-disk-floor, bench/disk_floor):
#                         the same directories, inodes and bytes read with 64 threads, nothing
#                         else (FLOOR_THREADS=64)
#              recheck       the hash cache (issue 12) on the small tree: a full check against a
#                            re-check with the cache, page cache dropped and warm, unchanged and
#                            after 1% of the files were rewritten; rsync -rcn beside
#              recheck-tiny  the same on the tiny tree (1,000,000 files)
#              recheck-mini  the same on the mini tree (a quick smoke run)
#              wide   one directory of 2,000,000 entries a side (issue 14: bounded memory; hard
#                     links to 20,000 files, made by bench/gen_wide.py); peers rsync -rcn and
#                     the walk floor (BENCH_WIDE_PEERS)
#              wide10m  the same with 10,000,000 entries a side (not in the default set: about
#                     1.5 GB of disk and long to generate)
#              default: small large tiny tiny-cold recheck recheck-tiny wide
#   Dropping the page cache needs root (echo 3 > /proc/sys/vm/drop_caches); without it the
#   dropped-cache rows are skipped and the table says so. RECHECK_RSYNC_COLD=0|1: rsync -rcn with
#   a dropped page cache (default 1, 0 for recheck-tiny: it reads 2 GB of tiny files from disk).
#   RECHECK_COLD=0: only the warm rows.
#   env: SMS_BENCH_DIR      where the trees live (default REPO/var/bench); a tree pair is reused
#                           when its truth.json was made with the same parameters
#        SMS_BENCH_RESULTS  where results go (default $SMS_BENCH_DIR/results/<UTC time>/)
#        SMS_SHARED_DIR     the shared kit (default ../shared next to the repository)
#        SMS_AGENT_ARGS     extra arguments for both sms-agent runs (e.g. "--threads 2")
#        REPS=1             measured repetitions of every tool (the fastest is reported)
#        TMO=1800           per-command timeout (s)
#        BENCH_PEERS        peers of run_peers.sh to run (default below)
#        BENCH_TINY_PEERS   the peers of the tiny scenario when BENCH_PEERS is not set
#                           (default rsync_c rsync_quick walk_stat xxh3_p2)
#        FLOOR_THREADS=64   threads of the disk floor (bin/sms-disk-floor) in the cold rows
#        FLOOR_WARM_THREADS=4  threads of the kernel-only floors in the warm tiny rows
# Every tool runs with a warm page cache and is timed with /usr/bin/time -v (wall, CPU user+sys
# including children, peak RSS). Prints one markdown table per scenario and writes it, with every
# raw output, under the results directory. Exit 0 when our counts equal the truth in every
# scenario, 1 when they do not, 2 when the benchmark could not run.
set -uo pipefail

die() { echo "bench.sh: $*" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
[[ $# -ge 1 ]] || die "usage: $0 BUILD_DIR [small|large|tiny|mini ...]"
BUILD=$(cd "$1" 2>/dev/null && pwd -P) || die "build dir $1 not found"
shift
AGENT="$BUILD/bin/sms-agent"
# The disk floor (issue 17): built beside the agent; its rows are skipped without it.
FLOOR="$BUILD/bin/sms-disk-floor"
FLOOR_THREADS=${FLOOR_THREADS:-64}
FLOOR_WARM_THREADS=${FLOOR_WARM_THREADS:-4}
[[ -x "$AGENT" ]] || die "$AGENT not found (make build)"
SHARED=$(cd "${SMS_SHARED_DIR:-$REPO/../shared}" 2>/dev/null && pwd -P) ||
  die "shared kit not found at ${SMS_SHARED_DIR:-$REPO/../shared} (set SMS_SHARED_DIR)"
KIT="$SHARED/bench"
for f in gen_tree.py run_peers.sh summarize.py; do [[ -f "$KIT/$f" ]] || die "$KIT/$f missing"; done
CHECK="$REPO/tests/e2e/check_truth.py"
DATA_ROOT=${SMS_BENCH_DIR:-$REPO/var/bench}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN=${SMS_BENCH_RESULTS:-$DATA_ROOT/results/$STAMP}
REPS=${REPS:-1}
COLD=0  # 1 while a *-cold scenario runs: the page cache is dropped before each run
TMO=${TMO:-1800}
read -r -a AGENT_ARGS <<< "${SMS_AGENT_ARGS:-}"
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (apt-get install time)"

SCENARIOS=("$@")
((${#SCENARIOS[@]})) || SCENARIOS=(small large tiny tiny-cold recheck recheck-tiny wide)
# The tree each scenario runs on.
tree_of() {
  case "$1" in
    recheck) echo small ;; recheck-*) echo "${1#recheck-}" ;; *-cold) echo "${1%-cold}" ;; *) echo "$1" ;;
  esac
}

# gen_tree.py parameters of each scenario, chosen to match the figures of ../shared/bench/README.md.
gen_params() {
  case "$1" in
    # sizes uniform in 0..20 KiB (1% empty): ~10 KB mean, ~1.01 GB a side
    small) echo "--files 100000 --small-max 20KiB" ;;
    # 20 files of 256 MiB a side; the target loses one, gains one, 3 are edited: 40 x 256 MiB in all
    large) echo "--files 0 --large 20 --depth 1 --fanout 4 --mod-same 2 --mod-size 1 --delete 1 --delete-dirs 0 --add 2 --add-dirs 0" ;;
    # sizes uniform in 0..2 KiB: ~1 KB mean, ~1.01 GB a side
    tiny) echo "--files 1000000 --small-max 2KiB" ;;
    mini) echo "--files 2000 --small-max 20KiB --awkward --symlinks 4 --empty-dirs 3" ;;
    # bench/gen_wide.py: one directory of N names a side, hard links to 20,000 distinct files
    wide) echo "--entries 2000000 --contents 20000" ;;
    wide10m) echo "--entries 10000000 --contents 20000" ;;
    *) return 1 ;;
  esac
}
# The generator of each tree.
gen_script() {
  case "$1" in wide*) echo "$REPO/bench/gen_wide.py" ;; *) echo "$KIT/gen_tree.py" ;; esac
}
# rough disk use over both trees (4 KiB blocks: a 1 KiB file takes 4 KiB) and inodes, for the
# free-space check
gen_bytes() {
  case "$1" in
    small) echo 2600000000 ;; large) echo 11000000000 ;; tiny) echo 8600000000 ;;
    wide) echo 600000000 ;; wide10m) echo 2000000000 ;; *) echo 70000000 ;;
  esac
}
gen_inodes() {
  case "$1" in small) echo 202000 ;; large) echo 100 ;; tiny) echo 2002000 ;; wide*) echo 41000 ;; *) echo 5000 ;; esac
}
for s in "${SCENARIOS[@]}"; do
  gen_params "$(tree_of "$s")" >/dev/null ||
    die "unknown scenario '$s' (small large tiny mini tiny-cold mini-cold recheck recheck-tiny recheck-mini wide wide10m)"
done

# Peers of run_peers.sh: the content checkers, rsync's quick check, and the floors.
DEFAULT_PEERS="walk_stat cat_p2 xxh3_p2 rsync_c rsync_quick rclone_check diff_rq hashdeep_build hashdeep_audit"
# The names run_peers.sh knows (its cmd_for cases): a misspelt BENCH_PEERS entry is an error, not
# a silently missing row.
KNOWN_PEERS=" $(grep -oE '^    [a-z0-9_]+\)' "$KIT/run_peers.sh" | tr -d ' )' | tr '\n' ' ')"
PEERS=()
for p in ${BENCH_PEERS:-$DEFAULT_PEERS}; do
  [[ "$KNOWN_PEERS" == *" $p "* ]] ||
    die "unknown peer '$p' in BENCH_PEERS (run_peers.sh knows:$KNOWN_PEERS)"
  case "$p" in
    rclone*) tool=rclone ;; rsync*) tool=rsync ;; hashdeep*) tool=hashdeep ;; diff*) tool=diff ;;
    xxh*) tool=xxhsum ;; b3*) tool=b3sum ;; *) tool="" ;;
  esac
  if [[ -n "$tool" ]] && ! command -v "$tool" >/dev/null; then
    echo "bench.sh: $tool not installed, skipping $p (make bench installs every peer)" >&2
    continue
  fi
  PEERS+=("$p")
done

# GENERATOR's parameters for ARGS, as its argparse would store them (for the reuse check).
parsed_params() {
  python3 - "$@" <<'EOF'
import json, sys, runpy, argparse
path, args = sys.argv[1], sys.argv[2:]
captured = {}
orig = argparse.ArgumentParser.parse_args
def grab(self, *a, **k):
    ns = orig(self, ["--out", "x"] + args)
    captured.update(vars(ns))
    raise SystemExit(0)
argparse.ArgumentParser.parse_args = grab
try:
    runpy.run_path(path, run_name="__main__")
except SystemExit:
    pass
captured.pop("out", None); captured.pop("force", None)
print(json.dumps(captured, sort_keys=True))
EOF
}

truth_params() {
  python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["params"]; p.pop("out",None); p.pop("force",None); print(json.dumps(p, sort_keys=True))' "$1" 2>/dev/null
}

prepare_tree() {
  local s=$1 data=$2 params want have need avail
  params=$(gen_params "$s")
  # shellcheck disable=SC2086
  want=$(parsed_params "$(gen_script "$s")" $params)
  have=$(truth_params "$data/truth.json" || true)
  if [[ -n "$have" && "$have" == "$want" && -d "$data/src" && -d "$data/dst" ]]; then
    echo "== $s: reusing $data"
    return 0
  fi
  mkdir -p "$data"
  need=$(gen_bytes "$s")
  avail=$(df -PB1 "$data" | awk 'NR==2{print $4}')
  if (( avail < need + need / 10 )); then
    die "$s needs ~$((need / 1000000)) MB in $data, only $((avail / 1000000)) MB free (set SMS_BENCH_DIR)"
  fi
  need=$(gen_inodes "$s")
  avail=$(df -Pi "$data" | awk 'NR==2{print $4}')
  if [[ "$avail" =~ ^[0-9]+$ ]] && (( avail > 0 && avail < need + need / 10 )); then
    die "$s needs ~$need inodes in $data, only $avail free (set SMS_BENCH_DIR)"
  fi
  echo "== $s: generating $data ($(basename "$(gen_script "$s")") $params)"
  rm -rf "$data/truth" "$data/truth.json"
  # shellcheck disable=SC2086
  python3 "$(gen_script "$s")" --out "$data" --force $params > "$data.gen.log" 2>&1 ||
    die "$(basename "$(gen_script "$s")") failed for $s: $(tail -3 "$data.gen.log")"
  tail -1 "$data.gen.log"
}

# Page cache warm-up: every listing, inode and byte of both trees read once.
warm() {
  local data=$1
  if [[ $(basename "$data") == wide* ]]; then
    # Millions of hard links to 20,000 files: the listings, the inodes and the distinct files.
    find "$data/src" "$data/dst" -printf '%s\n' > /dev/null
    find "$data/src/big" "$data/dst/big" -maxdepth 1 -type f -name 'e000[01]*' -print0 |
      xargs -0 -P2 -n 512 cat > /dev/null 2>&1
    return
  fi
  # One untimed full check reads every listing, inode and byte of both trees: on a million tiny
  # files much faster than thousands of `cat` processes (which took 25 minutes under load).
  "$AGENT" verify --json "$data/src" "$data/dst" > /dev/null 2>&1
}

wall_of() { awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$1"; }

# timed_best NAME RES CMD: run CMD REPS times (page cache dropped before each in a *-cold
# scenario), timed by /usr/bin/time -v; the fastest run's time, stdout, stderr and rc become
# RES/NAME.{time,stdout,stderr,rc}; prints that wall time.
timed_best() {
  local name=$1 res=$2 cmd=$3 r w best=""
  echo "$cmd" > "$res/$name.cmd"
  for r in $(seq 1 "$REPS"); do
    ((COLD)) && { sync; echo 3 > /proc/sys/vm/drop_caches; }
    /usr/bin/time -v -o "$res/$name.time.$r" timeout "$TMO" bash -c "$cmd" \
      > "$res/$name.stdout.$r" 2> "$res/$name.stderr.$r" < /dev/null
    echo $? > "$res/$name.rc.$r"
    w=$(wall_of "$res/$name.time.$r")
    if [[ -z "$best" ]] || awk -v a="$w" -v b="$best" 'BEGIN{exit !(a<b)}'; then
      best=$w
      for f in time stdout stderr rc; do cp "$res/$name.$f.$r" "$res/$name.$f"; done
    fi
  done
  echo "$best"
}

# run_agent NAME MODE DATA RES: time `sms-agent verify` like run_peers.sh times a peer.
run_agent() {
  local name=$1 mode=$2 data=$3 res=$4 best cmd
  cmd=$(printf '%q ' "$AGENT" verify --json --mode "$mode" "${AGENT_ARGS[@]}" "$data/src" "$data/dst")
  best=$(timed_best "$name" "$res" "$cmd")
  printf '%-16s rc=%-3s wall=%ss\n' "$name" "$(cat "$res/$name.rc")" "$best"
  python3 "$CHECK" counts "$data" "$res/$name.stdout" --mode "$mode" --label "$name" > "$res/$name.check" 2>&1
  echo $? > "$res/$name.check.rc"
  grep -E '^FAIL' "$res/$name.check" | sed 's/^/    /'
}

# run_floor NAME DATA RES ARGS...: the disk floor, timed like run_agent (page cache dropped
# before each repetition in a *-cold scenario).
run_floor() {
  local name=$1 data=$2 res=$3 best cmd
  shift 3
  [[ -x "$FLOOR" ]] || { echo "bench.sh: $FLOOR not built, no disk floor row" >&2; return; }
  cmd=$(printf '%q ' "$FLOOR" --threads "$FLOOR_THREADS" "$@" "$data/src" "$data/dst")
  best=$(timed_best "$name" "$res" "$cmd")
  printf '%-16s rc=%-3s wall=%ss  %s\n' "$name" "$(cat "$res/$name.rc")" "$best" "$(cat "$res/$name.stdout")"
}

# table SCENARIO DATA RES: the markdown table of one scenario (also written to RES/table.md)
table() {
  PYTHONPATH="$REPO/scripts" python3 - "$1" "$2" "$3" <<'EOF'
import json, os, sys
from bench_results import gnu_time, read as read_result
scen, data, res = sys.argv[1:4]
truth = json.load(open(os.path.join(data, "truth.json")))
exp, st, sym = truth["expected"], truth["stats"], truth.get("symlinks") or {}
peers = {}
try:
    peers = json.load(open(os.path.join(res, "results.json")))["rows"]
except (OSError, ValueError):
    pass

def rd(p):
    return read_result(res, p)

rows = []  # (label, key, timing, counts text, correct text)
for key, label, mode in (("sms_hash", "**sms-agent verify** (hash, xxh128)", "hash"),
                         ("sms_quick", "**sms-agent verify --mode quick** (size+mtime)", "quick")):
    t = gnu_time(res, key)
    if not t:
        continue
    rc = rd(key + ".rc").strip()
    counts, ok = "", "no (exit %s)" % rc
    try:
        j = json.loads(rd(key + ".stdout"))
        c = {}
        for d in j.get("consistency_result") or []:
            for k, v in d.items():
                if k.startswith("num_") and isinstance(v, int):
                    c[k] = c.get(k, 0) + v
        counts = "%s/%s/%s" % (c.get("num_different_files"), c.get("num_target_miss_files"),
                               c.get("num_target_more_files"))
        if rc == "1":
            ok = "yes" if rd(key + ".check.rc").strip() == "0" else "**NO**"
    except ValueError:
        pass
    rows.append((label, key, t, counts, ok))

NAMES = [("rsync_c", "rsync -rcn --delete (xxh128)"),
         ("rsync_quick", "rsync -rn --delete (size+mtime)"),
         ("rclone_check", "rclone check (MD5)"),
         ("hashdeep", "hashdeep build + audit (MD5)"),
         ("diff_rq", "diff -rq"),
         ("xxh3_p2", "floor: xxhsum -H3 both trees, 2 processes"),
         ("cat_p2", "floor: cat both trees > /dev/null, 2 processes"),
         ("walk_stat", "floor: find + stat both trees (walk only)")]
FLOORS = {"xxh3_p2", "cat_p2", "walk_stat"}
# The disk floor (bench/disk_floor): timed by bench.sh itself, page cache dropped in *-cold.
DISK_FLOORS = (("disk_floor_ring", "kernel-only floor: the agent's io_uring open + read, fstat, close of "
                                   "every file, %s threads, no hashing"),
               ("disk_floor_plain", "kernel-only floor: blocking open + read + close, %s threads"),
               ("disk_floor", "disk floor: open + read every file, %s threads, the agent's order"),
               ("disk_floor_par", "disk floor: the same, directories listed in parallel too"),
               ("disk_floor_stat", "disk floor: lstat every entry only (a re-check's floor)"))
for key, label in DISK_FLOORS:
    t = gnu_time(res, key)
    if t:
        threads = rd(key + ".cmd").split("--threads ")[-1].split()[0] if "--threads" in rd(key + ".cmd") else "?"
        rows.append((label.replace("%s", threads), key, t, "", "–"))
for key, label in NAMES:
    r = peers.get(key)
    if not r:
        continue
    t = {"wall_s": r["wall_s"], "cpu_s": r["user_s"] + r["sys_s"], "maxrss_mb": r["maxrss_mb"]}
    c = r.get("counts") or {}
    counts = "" if key in FLOORS or "different" not in c else "%s/%s/%s" % (
        c.get("different"), c.get("missing_on_target"), c.get("extra_on_target"))
    v = r.get("counts_ok")
    if key in FLOORS or not v:
        ok = "–"
    else:
        bad = [k.split("_")[0] for k, x in v.items() if x is False]
        ok = "yes" if not bad else "no (" + ", ".join(bad) + ")"
    rows.append((label, key, t, counts, ok))

by = {k: t for _, k, t, _, _ in rows}
rs, fl = by.get("rsync_c"), by.get("xxh3_p2")
out = []
ntot = st["src_files"]
gb = (st["src_bytes"] + st["dst_bytes"]) / 1e9
out.append("### %s: %s source files, %.2f GB over both trees\n" % (scen, format(ntot, ","), gb))
out.append("truth, different/missing/extra: regular files %d/%d/%d (what the peers are judged on); "
           "files + symlinks (our counters) hash %d/%d/%d, quick %d/%d/%d\n" % (
    exp["different"], exp["missing_on_target"], exp["extra_on_target"],
    exp["different"] + sym.get("target_differs", 0), exp["missing_on_target"] + sym.get("missing_on_target", 0),
    exp["extra_on_target"] + sym.get("extra_on_target", 0),
    exp["different_size"] + sym.get("target_differs", 0), exp["missing_on_target"] + sym.get("missing_on_target", 0),
    exp["extra_on_target"] + sym.get("extra_on_target", 0)))
out.append("| tool | wall s | CPU s | peak RSS MB | diff/miss/extra | counts correct? | × faster than rsync -rcn | × the xxhsum floor |")
out.append("|---|---:|---:|---:|---|---|---:|---:|")
for label, key, t, counts, ok in rows:
    w = max(t["wall_s"], 1e-3)
    out.append("| %s | %.2f | %.2f | %.1f | %s | %s | %s | %s |" % (
        label, t["wall_s"], t["cpu_s"], t["maxrss_mb"], counts, ok,
        "%.2f" % (rs["wall_s"] / w) if rs else "–", "%.2f" % (w / max(fl["wall_s"], 1e-3)) if fl else "–"))

# the targets of issue 2 for this scenario
def cmp(label, cond):
    out.append("- %s: %s" % (label, "met" if cond else "**missed**") if cond is not None else "- %s: not measured" % label)
h, q, rq = by.get("sms_hash"), by.get("sms_quick"), by.get("rsync_quick")
have = lambda *xs: all(x is not None for x in xs)

# The goal line of a floor `f` (what no reader doing its operations can beat): its time, the agent
# against it, and whether the floor itself is under the `times`× rsync line (else the goal is out of
# reach `where`).
def floor_line(what, f, times, where):
    need = rs["wall_s"] / times
    out.append("- %s: %.2f s wall, %.2f CPU s; sms-agent takes %.2f× the floor's wall time "
               "and %.2f× its CPU; %d× rsync needs ≤ %.2f s: %s" % (
                   what, f["wall_s"], f["cpu_s"], h["wall_s"] / max(f["wall_s"], 1e-3),
                   h["cpu_s"] / max(f["cpu_s"], 1e-3), times, need,
                   "the floor is under it" if f["wall_s"] <= need else
                   "**the floor alone is over it: not reachable %s**" % where))
out.append("")
if scen.startswith("wide") and have(h, rs):
    out.append("peak RSS: sms-agent hash %.0f MB, rsync -rcn %.0f MB: %.2f× rsync's; wall %.2f× "
               "faster than rsync -rcn" % (h["maxrss_mb"], rs["maxrss_mb"],
                                           h["maxrss_mb"] / max(rs["maxrss_mb"], 1e-3),
                                           rs["wall_s"] / max(h["wall_s"], 1e-3)))
if scen == "small":
    cmp("hash ≥ 1.5× faster than rsync -rcn", h["wall_s"] * 1.5 <= rs["wall_s"] if have(h, rs) else None)
    cmp("hash within 1.1× of the xxhsum floor", h["wall_s"] <= 1.1 * fl["wall_s"] if have(h, fl) else None)
    cmp("quick at least as fast as rsync -rn", q["wall_s"] <= rq["wall_s"] if have(q, rq) else None)
elif scen == "large":
    cmp("hash within 1.15× of the xxhsum floor", h["wall_s"] <= 1.15 * fl["wall_s"] if have(h, fl) else None)
    cmp("hash faster than rsync -rcn", h["wall_s"] < rs["wall_s"] if have(h, rs) else None)
elif scen == "tiny":
    cmp("hash ≥ 1.5× faster than rsync -rcn", h["wall_s"] * 1.5 <= rs["wall_s"] if have(h, rs) else None)
    cmp("hash ≥ 3× faster than rsync -rcn (issue 17)", h["wall_s"] * 3 <= rs["wall_s"] if have(h, rs) else None)
    f = by.get("disk_floor_ring")
    if have(h, rs, f):
        floor_line("kernel-only floor (the agent's io_uring open, read, fstat and close of every file, "
                   "no hashing)", f, 3, "with these kernel calls")
    cmp("hash peak RSS < 64 MiB", h["maxrss_mb"] < 64 if have(h) else None)
elif scen == "tiny-cold":
    cmp("page cache dropped: hash ≥ 5× faster than rsync -rcn (issue 17)",
        h["wall_s"] * 5 <= rs["wall_s"] if have(h, rs) else None)
    df = [by[k] for k in ("disk_floor", "disk_floor_par") if k in by]
    if df and have(h, rs):
        floor_line("disk floor (fastest open + read of every file)",
                   min(df, key=lambda t: t["wall_s"]), 5, "on this disk")
    cmp("hash peak RSS < 64 MiB", h["maxrss_mb"] < 64 if have(h) else None)
elif scen.startswith("wide"):
    cmp("one directory of millions of entries: hash peak RSS < 256 MiB (issue 14)",
        h["maxrss_mb"] < 256 if have(h) else None)
    cmp("quick peak RSS < 256 MiB", q["maxrss_mb"] < 256 if have(q) else None)
ours_ok = all(ok == "yes" for _, k, _, _, ok in rows if k.startswith("sms_"))
cmp("our counts equal the truth", ours_ok if any(k.startswith("sms_") for _, k, *_ in rows) else None)
txt = "\n".join(out) + "\n"
open(os.path.join(res, "table.md"), "w").write(txt)
print(txt)
sys.exit(0 if ours_ok else 1)
EOF
}

# ---- the hash cache (issue 12) --------------------------------------------------------------
can_drop() { [[ -w /proc/sys/vm/drop_caches ]] && (sync; echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# rewrite_share DATA FRACTION: rewrites that share of the regular files on both sides with their
# own content under a new inode, mtime kept (what a re-sync does): the verdicts stay those of
# truth.json, and every hash cache must read those files again.
rewrite_share() {
  python3 - "$1" "$2" <<'EOF'
import os, random, shutil, sys
data, share = sys.argv[1], float(sys.argv[2])
paths = []
for top, dirs, files in os.walk(os.path.join(data, "src")):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(top, f)
        if os.path.isfile(p) and not os.path.islink(p):
            paths.append(os.path.relpath(p, os.path.join(data, "src")))
rng = random.Random(len(paths))
pick = rng.sample(paths, max(1, int(len(paths) * share)))
n = 0
for side in ("src", "dst"):
    for rel in pick:
        p = os.path.join(data, side, rel)
        if not os.path.isfile(p) or os.path.islink(p):
            continue
        tmp = p + ".sms-bench-tmp"
        shutil.copy2(p, tmp)
        os.replace(tmp, p)
        n += 1
print("rewrote %d files (%d paths on both sides)" % (n, len(pick)))
EOF
}

# timed NAME RES COMMAND...: one run under /usr/bin/time -v
timed() {
  local name=$1 res=$2; shift 2
  printf '%q ' "$@" > "$res/$name.cmd"
  /usr/bin/time -v -o "$res/$name.time" timeout "$TMO" "$@" > "$res/$name.stdout" 2> "$res/$name.stderr" < /dev/null
  echo $? > "$res/$name.rc"
  printf '%-22s rc=%-3s wall=%ss\n' "$name" "$(cat "$res/$name.rc")" "$(wall_of "$res/$name.time")"
}

# recheck SCENARIO DATA RES: the cache rows; prints the markdown table
recheck() {
  local s=$1 data=$2 res=$3 cache=$3/cache cold=1 r
  local agent=("$AGENT" verify --json "${AGENT_ARGS[@]}")
  local rsync_cmd=(rsync -rcn --delete --itemize-changes "$data/src/" "$data/dst/")
  # The floor of any check that must notice a change: walk and lstat both trees (the kit's walk_stat).
  local walk_cmd=(find "$data/src" "$data/dst" -printf '%s %T@ %p\0')
  # rsync with a dropped page cache reads every byte from disk: minutes on 1 M files.
  local rsync_cold=${RECHECK_RSYNC_COLD:-$([[ $s == recheck-tiny ]] && echo 0 || echo 1)}
  command -v rsync > /dev/null || { rsync_cold=0; rsync_cmd=(); }
  can_drop || cold=0
  [[ ${RECHECK_COLD:-1} == 0 ]] && cold=0
  rm -rf "$cache"
  {
    echo "== $s: priming the caches (one full check with --cache-dir)"
    "${agent[@]}" --cache-dir "$cache" "$data/src" "$data/dst" > "$res/prime.json" 2> "$res/prime.err"
    for r in $(seq 1 "$REPS"); do
      if ((cold)); then
        drop; timed "full_cold.$r" "$res" "${agent[@]}" --no-cache "$data/src" "$data/dst"
        drop; timed "cached_cold.$r" "$res" "${agent[@]}" --cache-dir "$cache" "$data/src" "$data/dst"
        ((rsync_cold)) && { drop; timed "rsync_cold.$r" "$res" "${rsync_cmd[@]}"; }
        drop; timed "walk_cold.$r" "$res" "${walk_cmd[@]}"
        if [[ -x "$FLOOR" ]]; then
          drop; timed "dfloor_stat_cold.$r" "$res" "$FLOOR" --threads "$FLOOR_THREADS" --stat-only "$data/src" "$data/dst"
          drop; timed "dfloor_read_cold.$r" "$res" "$FLOOR" --threads "$FLOOR_THREADS" "$data/src" "$data/dst"
        fi
      fi
      # Warm: an untimed full check reads every file of both trees (much faster than the cat of
      # warm() on a million tiny files).
      "${agent[@]}" --no-cache "$data/src" "$data/dst" > /dev/null 2>&1
      timed "full_warm.$r" "$res" "${agent[@]}" --no-cache "$data/src" "$data/dst"
      timed "cached_warm.$r" "$res" "${agent[@]}" --cache-dir "$cache" "$data/src" "$data/dst"
      ((${#rsync_cmd[@]})) && timed "rsync_warm.$r" "$res" "${rsync_cmd[@]}"
      timed "walk_warm.$r" "$res" "${walk_cmd[@]}"
      if ((cold)); then
        rewrite_share "$data" 0.01 > "$res/rewrite_cold.$r.log"
        drop; timed "changed_cold.$r" "$res" "${agent[@]}" --cache-dir "$cache" "$data/src" "$data/dst"
      fi
      rewrite_share "$data" 0.01 > "$res/rewrite_warm.$r.log"
      "${agent[@]}" --no-cache "$data/src" "$data/dst" > /dev/null 2>&1
      timed "changed_warm.$r" "$res" "${agent[@]}" --cache-dir "$cache" "$data/src" "$data/dst"
    done
  } > "$res/recheck.log" 2>&1
  python3 "$REPO/scripts/bench_recheck_table.py" "$s" "$data" "$res" "$REPS" "$cold" "$CHECK"
}

mkdir -p "$RUN" || die "cannot create $RUN"
{
  echo "# sms-agent benchmark, $STAMP"
  echo
  echo "- host: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB RAM, kernel $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- sms-agent: $AGENT, $("$AGENT" --version 2>&1 | head -1) (repo commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown))${SMS_AGENT_ARGS:+, extra args: $SMS_AGENT_ARGS}"
  echo "- peers: $(rsync --version | head -1 | sed 's/  */ /g'); $(rclone version 2>/dev/null | head -1); hashdeep $(hashdeep -V 2>/dev/null); $(xxhsum --version 2>&1 | head -1 | cut -d, -f1)"
  echo "- warm page cache, fastest of $REPS run(s), /usr/bin/time -v; CPU = user + sys including children"
  echo "- diff/miss/extra: counts each tool reports; for sms-agent every non-directory entry (files + symlinks)"
  echo
} > "$RUN/report.md"

status=0
for s in "${SCENARIOS[@]}"; do
  data="$DATA_ROOT/$(tree_of "$s")"
  res="$RUN/$s"
  mkdir -p "$res"
  prepare_tree "$(tree_of "$s")" "$data"
  if [[ "$s" == recheck* ]]; then
    echo "== $s: full checks and re-checks with the hash cache"
    recheck "$s" "$data" "$res" > "$res/table.out" || status=1
    grep -E '^[a-z_]+\.[0-9]+ +rc=' "$res/recheck.log"
    tee -a "$RUN/report.md" < "$res/table.out"
    continue
  fi
  COLD=0
  peers=("${PEERS[@]}")
  if [[ "$s" == *-cold ]]; then
    can_drop || die "$s: dropping the page cache needs root (echo 3 > /proc/sys/vm/drop_caches)"
    echo "== $s: page cache dropped before every run (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    COLD=1
    # Cold, only the peer the goal is set against: rclone and hashdeep take many minutes.
    peers=(); for p in ${BENCH_COLD_PEERS:-rsync_c}; do peers+=("$p"); done
  elif [[ "$s" == tiny && -z "${BENCH_PEERS:-}" ]]; then
    # On a million files rclone, hashdeep, diff and the cat floor take many minutes each: the
    # peers the goals are set against, and the walk and hash floors (BENCH_TINY_PEERS).
    peers=(); for p in ${BENCH_TINY_PEERS:-rsync_c rsync_quick walk_stat xxh3_p2}; do peers+=("$p"); done
    echo "== $s: warming the page cache"
    warm "$data"
  elif [[ "$s" == wide* ]]; then
    # rclone, hashdeep and diff on millions of names in one directory take very long.
    peers=(); for p in ${BENCH_WIDE_PEERS:-rsync_c walk_stat}; do peers+=("$p"); done
    echo "== $s: warming the page cache"
    warm "$data"
  else
    echo "== $s: warming the page cache"
    warm "$data"
  fi
  run_agent sms_hash hash "$data" "$res"
  ((COLD)) || run_agent sms_quick quick "$data" "$res"
  if ((${#peers[@]})); then
    PEERS="${peers[*]}" MODE=$( ((COLD)) && echo cold || echo warm) REPS="$REPS" TMO="$TMO" \
      "$KIT/run_peers.sh" "$data" "$res" > "$res/run_peers.log" 2>&1
    grep -E '^[a-z0-9_]+ +rc=' "$res/run_peers.log"
  fi
  if [[ "$s" == tiny ]]; then
    # What the kernel allows warm: the agent's own system calls and ring operations per file with
    # no hashing, and the plain blocking calls, with the agent's worker count.
    run_floor disk_floor_ring "$data" "$res" --threads "$FLOOR_WARM_THREADS" --ops agent
    run_floor disk_floor_plain "$data" "$res" --threads "$FLOOR_WARM_THREADS"
  fi
  if ((COLD)); then
    # What the disk allows: the same reads with FLOOR_THREADS threads, nothing else.
    run_floor disk_floor "$data" "$res"
    run_floor disk_floor_par "$data" "$res" --walk parallel
    run_floor disk_floor_stat "$data" "$res" --stat-only
  fi
  echo "- $s: load average after the runs $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RUN/report.md"
  table "$s" "$data" "$res" > "$res/table.out" || status=1
  tee -a "$RUN/report.md" < "$res/table.out"
done
ln -sfn "$RUN" "$(dirname "$RUN")/latest" 2>/dev/null || true
echo "report: $RUN/report.md"
exit $status
