#!/usr/bin/env python3
"""The hostile tree pairs of tests/e2e/hostile_trees_test.sh: what engineers who migrate real
servers meet, each with the verdict a careful human expects (EXPECTED below holds the lists).

usage: hostile_trees.py names|perms ROOT SIDE     SIDE: a (source) or b (target)
       hostile_trees.py expect names|names-metadata|names-quick|perms   the expected text list, '=' lines
                                                            left out (escaped as --list writes)
  names: awkward names, paths past PATH_MAX, symlinks, hard links, special files, sparse
         files, type swaps, metadata differences (run as root: chown, mknod)
  perms: files and directories a normal user cannot read or search, on each side
"""
import os
import socket
import sys


def write(root, rel, data):
    path = os.path.join(root.encode(), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def names(root, side):
    os.makedirs(root, exist_ok=True)
    differ = {b"nl\nname", b"bad\xff\xfeutf8", b"x" * 255, b"\\x41"}
    for n in [b"nl\nname", b"tab\tname", b"back\\slash", b"quote\"s'", b"-leading", b"--help",
              b"bad\xff\xfeutf8", b"x" * 255, b"cr\rname", b"sp ace ", b"= eq", b"* star",
              b"\\x41", "caf\u00e9".encode(), "cafe\u0301".encode(), b"Case", b"case"]:
        write(root, b"names/" + n, n + (b"-diff" if side == "b" and n in differ else b""))
    write(root, b"names/only\nsrc" if side == "a" else b"names/only\ttgt", b"1")
    # A path of ~5,000 bytes (PATH_MAX is 4,096): made one directory at a time.
    fd = os.open(root, os.O_RDONLY)
    for i in range(40):
        comp = (b"d%03d" % i) * 30
        try:
            os.mkdir(comp, dir_fd=fd)
        except FileExistsError:
            pass
        nfd = os.open(comp, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    for name, data in ((b"leaf", b"deep" + (b"!" if side == "b" else b"")), (b"leafsame", b"s")):
        lf = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(lf, data)
        os.close(lf)
    os.close(fd)
    links = os.path.join(root, "links")
    os.makedirs(links, exist_ok=True)
    os.symlink("target-same", links + "/same")
    os.symlink("t-a" if side == "a" else "t-b", links + "/difftarget")
    os.symlink("/nonexistent/dangling", links + "/dangling")
    os.symlink("loop2", links + "/loop1")
    os.symlink("loop1", links + "/loop2")
    os.symlink("../names", links + "/todir")
    os.symlink("..", links + "/up")
    write(root, b"hard/x", b"hardcontent")
    os.link(root + "/hard/x", root + "/hard/y")
    os.makedirs(root + "/hard2", exist_ok=True)
    if side == "a":
        os.link(root + "/hard/x", root + "/hard2/z")
    else:
        write(root, b"hard2/z", b"hardcontent")
    special = root + "/special"
    os.makedirs(special, exist_ok=True)
    os.mkfifo(special + "/fifo")
    s = socket.socket(socket.AF_UNIX)
    s.bind(special + "/sock")
    s.close()
    os.mknod(special + "/null", 0o666 | 0o020000, os.makedev(1, 3))
    os.mknod(special + "/dev", 0o666 | 0o020000, os.makedev(1, 5 if side == "a" else 7))
    write(root, b"special/empty", b"")
    with open(special + "/sparse", "wb") as f:
        f.truncate(10 << 20)
    with open(special + "/sparse-tail", "wb") as f:
        f.truncate(10 << 20)
        f.seek((10 << 20) - 4)
        f.write(b"tail" if side == "a" else b"TAIL")
    if side == "a":
        write(root, b"swap/dir_becomes_file/inner", b"1")
        write(root, b"swap/file_becomes_dir", b"1")
        os.symlink("x", root + "/swap/link_becomes_file")
    else:
        write(root, b"swap/dir_becomes_file", b"1")
        write(root, b"swap/file_becomes_dir/inner", b"1")
        write(root, b"swap/link_becomes_file", b"x")
    write(root, b"meta/mode", b"m")
    os.chmod(root + "/meta/mode", 0o644 if side == "a" else 0o600)
    write(root, b"meta/owner", b"o")
    os.chown(root + "/meta/owner", 0 if side == "a" else 65534, 0)
    # Timestamps: 1 ns apart, before 1970 (1 ns apart), far in the future (equal).
    write(root, b"meta/mtime", b"t")
    os.utime(root + "/meta/mtime", ns=(0, 1_000_000_000 + (side == "b")))
    write(root, b"meta/past", b"p")
    os.utime(root + "/meta/past", ns=(0, -86400_000_000_123 - (side == "b")))
    write(root, b"meta/future", b"f")
    os.utime(root + "/meta/future", ns=(0, 8_000_000_000_000_000_000))
    # Every file's mtime equal on both sides except the three above: --metadata then
    # names only the metadata differences made on purpose.
    for dirpath, dirnames, filenames in os.walk(root.encode()):
        for n in filenames:
            p = os.path.join(dirpath, n)
            if p.endswith((b"/meta/mtime", b"/meta/past", b"/meta/future")):
                continue
            os.utime(p, ns=(0, 1_700_000_000_000_000_000), follow_symlinks=False)
    fd = os.open(root + "/" + "/".join(("d%03d" % i) * 30 for i in range(20)), os.O_RDONLY)
    for i in range(20, 40):
        nfd = os.open((b"d%03d" % i) * 30, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    for name in (b"leaf", b"leafsame"):
        os.utime(name, ns=(0, 1_700_000_000_000_000_000), dir_fd=fd)
    os.close(fd)


def perms(root, side):
    for d in ("ok", "noread", "nosearch", "both"):
        write(root, (d + "/f").encode(), d.encode())
    write(root, b"unread", b"u")
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for n in filenames:
            os.chmod(os.path.join(dirpath, n), 0o644)
    if side == "a":
        # Unreadable, and only on the source: in doubt, not "missing on the target".
        write(root, b"lonely", b"l")
        os.chmod(root + "/lonely", 0o000)
        os.chmod(root + "/unread", 0o000)  # a file nobody else can open
        os.chmod(root + "/noread", 0o733)  # searchable, not listable
    else:
        os.chmod(root + "/nosearch", 0o744)  # listable, not searchable
    os.chmod(root + "/both", 0o700)  # neither, on both sides


DEEP = "/".join(("d%03d" % i) * 30 for i in range(40)).encode()

EXPECTED = {
    # A content difference, a path past PATH_MAX, every awkward name carried exactly and
    # escaped as --list writes it (\\ \n \t; other bytes raw); a symlink compared by its
    # target, never followed; a device by its number; a type change; a missing and an
    # extra file. Same: the rest (symlink loops, dangling links, links to directories,
    # FIFOs, sockets, empty and sparse files, hard links whether or not the target keeps
    # them linked, names differing only in case, NFC and NFD names as two names).
    "names": [
        b"* " + DEEP + b"/leaf",
        b"* links/difftarget",
        b"* names/\\\\x41",
        b"* names/bad\xff\xfeutf8",
        b"* names/nl\\nname",
        b"+ names/only\\ttgt",
        b"- names/only\\nsrc",
        b"* names/" + b"x" * 255,
        b"* special/dev",
        b"* special/sparse-tail",
        b"* swap/dir_becomes_file/",
        b"- swap/dir_becomes_file/inner",
        b"* swap/file_becomes_dir",
        b"+ swap/file_becomes_dir/inner",
        b"* swap/link_becomes_file",
    ],
    # --metadata adds the mode, owner and the two 1 ns mtime differences (the far future
    # is equal on both sides).
    "names-metadata": [b"% meta/mode", b"% meta/mtime", b"% meta/owner", b"% meta/past"],
    # --mode quick (size and mtime, no reads) misses the sparse file's last bytes (same size,
    # same mtime) and finds the two mtimes 1 ns apart.
    "names-quick": [b"* meta/mtime", b"* meta/past"],
    # As a user who cannot read them: errors, on whichever side, never equal or missing.
    "perms": [b"! both/", b"! lonely", b"! noread/", b"! noread/f", b"! nosearch/f",
              b"! unread"],
}


def expect(kind):
    if kind == "perms":
        return sorted(EXPECTED["perms"])
    lines = EXPECTED["names"] + (EXPECTED[kind] if kind != "names" else [])
    if kind == "names-quick":
        lines = [line for line in lines if line != b"* special/sparse-tail"]
    return sorted(lines)


if __name__ == "__main__":
    if sys.argv[1] == "expect":
        sys.stdout.buffer.write(b"".join(line + b"\n" for line in expect(sys.argv[2])))
        sys.exit(0)
    kind, root, side = sys.argv[1:4]
    {"names": names, "perms": perms}[kind](root, side)
