#!/usr/bin/env python3
"""A tree pair whose one directory holds millions of entries, with ground truth.

OUT/src/big holds --entries names; OUT/dst/big the same names, except --missing names left out,
--different names whose content differs (same size and mtime: only a content check sees them)
and --extra names only there. A million files cost a million inodes and, with content, 4 KiB of
disk each, so the names are hard links to --contents distinct files (sizes 0..2 KiB) created
first: OUT takes a few hundred MB for 10 M names a side and almost no inodes. Hard links do
not change what a verifier must report: each name is a regular file with its own verdict.
Extra top-level files (`a`, `z`) sort before and after the directory.

OUT/truth.json has the shape of ../shared/bench/gen_tree.py's ("params", "expected", "stats"),
so scripts/bench.sh and tests/e2e/check_truth.py read it unchanged.

usage: gen_wide.py --out DIR --entries N [--contents K] [--different D] [--missing M]
                   [--extra E] [--force]
Only python3 stdlib. Deterministic.
"""
import argparse
import json
import os
import shutil
import sys
import time

BASE_MTIME = 1_600_000_000


def name(i):
    return "e%08d.dat" % i


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--entries", type=int, required=True, help="names in src/big")
    ap.add_argument("--contents", type=int, default=1000, help="distinct files they link to")
    ap.add_argument("--different", type=int, default=100)
    ap.add_argument("--missing", type=int, default=100)
    ap.add_argument("--extra", type=int, default=100)
    ap.add_argument("--force", action="store_true", help="remove existing OUT/src OUT/dst")
    a = ap.parse_args()
    n, k = a.entries, a.contents
    if not (0 < k <= n and a.different + a.missing <= n - k):
        sys.exit("gen_wide.py: need 0 < --contents <= --entries, and room for the edits")
    t0 = time.time()
    out = os.path.abspath(a.out)
    src, dst = os.path.join(out, "src"), os.path.join(out, "dst")
    for p in (src, dst):
        if os.path.exists(p):
            if not a.force:
                sys.exit(f"{p} exists (use --force)")
            shutil.rmtree(p)
        os.makedirs(os.path.join(p, "big"))

    # Edits, spread evenly over the names past the content files.
    def spread(count, offset):
        step = max(1, (n - k) // max(count, 1))
        return {k + (offset + j * step) % (n - k) for j in range(count)}
    different = spread(a.different, 1)
    missing = spread(a.missing, 2) - different
    while len(missing) < a.missing:  # collisions on tiny trees
        missing.add(next(i for i in range(k, n) if i not in different and i not in missing))
    extra_after = sorted(spread(a.extra, 3))

    sizes = [(i * 2654435761) % 2049 for i in range(k)]
    stats = {"src_files": 0, "src_bytes": 0, "dst_files": 0, "dst_bytes": 0}

    def content(i, variant=0):
        size = sizes[i]
        body = (b"%d:%d|" % (i, variant) * (size // 4 + 1))[:size]
        return body

    def write(root, rel, data, mtime):
        path = os.path.join(root, rel)
        with open(path, "wb") as fh:
            fh.write(data)
        os.utime(path, ns=(mtime, mtime))

    for side in (src, dst):
        write(side, "a", b"first\n", BASE_MTIME * 10**9)
        write(side, "z", b"last\n", BASE_MTIME * 10**9)
    stats["src_files"] = stats["dst_files"] = 2
    stats["src_bytes"] = stats["dst_bytes"] = 11

    for side, key in ((src, "src"), (dst, "dst")):
        big = os.open(os.path.join(side, "big"), os.O_RDONLY | os.O_DIRECTORY)
        for i in range(k):
            write(os.path.join(side, "big"), name(i), content(i), (BASE_MTIME + i) * 10**9)
        for i in range(n):
            if key == "dst" and i in missing:
                continue
            if key == "dst" and i in different:
                c = i % k
                data = bytearray(content(c))
                if data:
                    data[len(data) // 2] ^= 0xFF
                else:
                    data = bytearray(b"x")  # an empty file cannot keep its size
                write(os.path.join(side, "big"), name(i), bytes(data), (BASE_MTIME + c) * 10**9)
                stats["dst_files"] += 1
                stats["dst_bytes"] += len(data)
                continue
            if i >= k:
                os.link(name(i % k), name(i), src_dir_fd=big, dst_dir_fd=big)
            stats[key + "_files"] += 1
            stats[key + "_bytes"] += sizes[i % k]
        if key == "dst":
            for i in extra_after:
                os.link(name(i % k), name(i) + "x", src_dir_fd=big, dst_dir_fd=big)
                stats["dst_files"] += 1
                stats["dst_bytes"] += sizes[i % k]
        os.close(big)

    diff_size = sum(1 for i in different if sizes[i % k] == 0)
    params = vars(a).copy()
    truth = {
        "params": params,
        "expected": {
            "total": n + 2,
            "different": len(different),
            "different_same_size": len(different) - diff_size,
            "different_size": diff_size,
            "missing_on_target": len(missing),
            "extra_on_target": len(extra_after),
            "identical": n + 2 - len(different) - len(missing),
        },
        "stats": stats,
        "symlinks": {},
        "seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(out, "truth.json"), "w") as fh:
        json.dump(truth, fh, indent=1)
    print("gen_wide.py: %d names a side in one directory (%d distinct files), %d different, "
          "%d missing, %d extra, %.0f s" % (n, k, len(different), len(missing),
                                             len(extra_after), time.time() - t0))


if __name__ == "__main__":
    main()
