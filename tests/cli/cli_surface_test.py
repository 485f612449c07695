#!/usr/bin/env python3
"""The command line as people meet it (issue 16, item 4), on the real binaries:

- `--version` of both programs: version and commit; the commit is "unknown"
  for a build outside git (cmake/version_info.cmake, run here on a temp dir);
- the man pages, completions and Markdown under BUILD_DIR/share are what the
  binaries generate now, every option of every command's `--help` is in
  the man page, and `man --warnings` (what lintian runs) finds nothing;
- bash completion completes commands, options, literal values and paths
  (the script run in bash); the zsh script parses (`zsh -n`, when installed);
- the README's option tables list exactly the options of `verify --help`
  and `run --help`, with the same value names; docs/cli-reference.md is
  current (`make cli-docs` writes it);
- an error that stops a check before it starts prints the error once and
  nothing else; an ssh failure leads with ssh's own reason;
- `sms-server admin --config FILE` reads the server's config file.

usage: cli_surface_test.py BUILD_DIR [--write-docs]
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

BUILD = os.path.abspath(sys.argv[1])
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(BUILD, "bin")
SHARE = os.path.join(BUILD, "share")
PROGRAMS = ["sms-agent", "sms-server"]
REFERENCE = os.path.join(REPO, "docs", "cli-reference.md")
REFERENCE_HEAD = """# Command-line reference

Generated from the programs' own option definitions, the ones `--help` prints and the man
pages are made of (`sms-agent --generate-docs=markdown`, `sms-server --generate-docs=markdown`):
do not edit it; `make cli-docs` writes it again, and ctest `cli_surface` fails when it is stale.
How the man pages and completions are made and installed: [cli.md](cli.md).

"""

failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    if not ok:
        failures.append(name)


def run(*args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(list(args), **kw)


def generate(program, fmt):
    r = run(os.path.join(BIN, program), f"--generate-docs={fmt}")
    assert r.returncode == 0, (program, fmt, r.stderr)
    return r.stdout


def reference():
    return REFERENCE_HEAD + "\n".join(generate(p, "markdown") for p in PROGRAMS)


if "--write-docs" in sys.argv:
    with open(REFERENCE, "w") as f:
        f.write(reference())
    print(f"wrote {REFERENCE}")
    sys.exit(0)

# ---- --version ---------------------------------------------------------------
for program in PROGRAMS:
    r = run(os.path.join(BIN, program), "--version")
    m = re.fullmatch(r"(\S+) (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(?:-dirty)?|unknown)\)\n",
                     r.stdout)
    check(f"{program} --version: name, version and commit", r.returncode == 0 and m and
          m.group(1) == program, repr(r.stdout))
    if m and os.path.exists(os.path.join(REPO, ".git")) and shutil.which("git"):
        commit = m.group(3).split("-")[0]
        r = run("git", "-C", REPO, "cat-file", "-e", commit + "^{commit}")
        check(f"{program} --version: the commit is this repository's",
              commit != "unknown" and r.returncode == 0, commit)
    project = re.search(r"project\(sms_consistency VERSION ([0-9.]+)",
                        open(os.path.join(REPO, "CMakeLists.txt")).read()).group(1)
    check(f"{program} --version: the version is CMakeLists.txt's",
          m and m.group(2) == project, project)

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "v.cc")
    script = os.path.join(REPO, "cmake", "version_info.cmake")
    run("cmake", f"-DSOURCE_DIR={tmp}", "-DVERSION=9.8.7", f"-DOUT={out}", "-P", script)
    text = open(out).read() if os.path.exists(out) else ""
    check("a build outside git says commit \"unknown\"",
          'kCommit[] = "unknown"' in text, text)
    run("cmake", f"-DSOURCE_DIR={tmp}", "-DVERSION=9.8.7", "-DCOMMIT=abc123",
        f"-DOUT={out}", "-P", script)
    check("-DSMS_GIT_COMMIT names the commit of a build from a tarball",
          'kCommit[] = "abc123"' in open(out).read())

# ---- man pages, completions, reference ----------------------------------------
FILES = {"man": "man/man1/{}.1", "bash": "bash-completion/completions/{}",
         "zsh": "zsh/vendor-completions/_{}", "markdown": "doc/{}.md"}


def help_options(program, path):
    """Every --option that `PROGRAM PATH... --help` shows, for each command."""
    r = run(os.path.join(BIN, program), *path, "--help")
    opts = set(re.findall(r"^\s+(?:-\w,)?(--[\w-]+)", r.stdout, re.M))
    subs = re.findall(r"^Subcommands:\n((?:  \S.*\n)+)", r.stdout, re.M)
    result = {tuple(path): opts}
    for block in subs:
        for line in block.splitlines():
            result.update(help_options(program, path + [line.split()[0]]))
    return result


for program in PROGRAMS:
    for fmt, pattern in FILES.items():
        path = os.path.join(SHARE, pattern.format(program))
        current = open(path).read() if os.path.exists(path) else None
        check(f"{program}: build/share/{pattern.format(program)} is current",
              current == generate(program, fmt), path)
    man = generate(program, "man")
    commands = help_options(program, [])
    check(f"{program}: --help shows commands", len(commands) >= 3, commands)
    for path, opts in commands.items():
        if path:
            check(f"{program} man page: section for `{' '.join(path)}`",
                  f'.SS "{program} {" ".join(path)}"'.replace("-", "\\-") in man)
        for opt in sorted(opts - {"--help"}):
            check(f"{program} man page: {' '.join(path)} {opt}",
                  "\\fB" + opt.replace("-", "\\-") + "\\fR" in man)
    if shutil.which("man"):
        r = run("man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z",
                os.path.join(SHARE, FILES["man"].format(program)),
                env=dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80"))
        check(f"{program} man page: no groff warnings", r.returncode == 0 and
              not r.stderr.strip(), r.stderr[:500])

with open(REFERENCE) as f:
    check("docs/cli-reference.md is current (make cli-docs)", f.read() == reference())


def complete(program, line):
    """What bash completes for LINE (the cursor at its end)."""
    script = os.path.join(SHARE, FILES["bash"].format(program))
    driver = f"""
source {script}
COMP_LINE={line!r}
COMP_POINT=${{#COMP_LINE}}
read -r -a COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
_{program.replace('-', '_')}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    r = run("bash", "-c", driver)
    return r.stdout.split()


check("bash: commands", complete("sms-agent", "sms-agent ") == ["verify", "manifest", "run"],
      complete("sms-agent", "sms-agent "))
check("bash: a command's options",
      complete("sms-agent", "sms-agent verify --no-") == ["--no-progress", "--no-cache"],
      complete("sms-agent", "sms-agent verify --no-"))
check("bash: literal values", complete("sms-agent", "sms-agent verify --mode ") ==
      ["hash", "quick"], complete("sms-agent", "sms-agent verify --mode "))
check("bash: --opt=value (COMP_WORDBREAKS splits at =)",
      complete("sms-agent", "sms-agent verify --hash = s") == ["sha256"],
      complete("sms-agent", "sms-agent verify --hash = s"))
check("bash: an option's value is not taken for a command",
      complete("sms-server", "sms-server admin --db run create-u") == ["create-user"],
      complete("sms-server", "sms-server admin --db run create-u"))
check("bash: nested commands' options",
      complete("sms-server", "sms-server admin create-user --role a") == ["admin", "agent"],
      complete("sms-server", "sms-server admin create-user --role a"))
with tempfile.TemporaryDirectory() as tmp:
    os.mkdir(os.path.join(tmp, "srcdir"))
    open(os.path.join(tmp, "some.conf"), "w").close()
    check("bash: directories for a DIR", complete("sms-agent", f"sms-agent verify --dir {tmp}/s")
          == [f"{tmp}/srcdir"], complete("sms-agent", f"sms-agent verify --dir {tmp}/s"))
    check("bash: files for a FILE", sorted(complete("sms-agent", f"sms-agent run --config {tmp}/s"))
          == [f"{tmp}/some.conf", f"{tmp}/srcdir"])
    check("bash: paths for SOURCE TARGET",
          complete("sms-agent", f"sms-agent verify {tmp}/so") == [f"{tmp}/some.conf"])
if shutil.which("zsh"):
    for program in PROGRAMS:
        script = os.path.join(SHARE, FILES["zsh"].format(program))
        r = run("zsh", "-n", script)
        check(f"{program}: the zsh completion parses", r.returncode == 0, r.stderr)
        # Loaded by compinit from an fpath directory, as a distribution does.
        with tempfile.TemporaryDirectory() as tmp:
            r = run("zsh", "-f", "-c", f"fpath=({os.path.dirname(script)} $fpath); "
                    f"autoload -Uz compinit; compinit -u -d {tmp}/zcompdump; "
                    f"print -r -- ${{_comps[{program}]}}")
        check(f"{program}: compinit binds the zsh completion",
              r.stdout.strip() == "_" + program, r.stdout + r.stderr)
else:
    print("skip zsh checks: zsh is not installed")

# ---- the README's option tables against --help ---------------------------------


def table_after(text, heading, first_column):
    """First cells of the first table after HEADING whose header is FIRST_COLUMN."""
    part = text[text.index(heading):]
    part = part[part.index(f"| {first_column} |"):]
    rows = []
    for line in part.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cell = re.match(r"\| ((?:[^|\\]|\\.)*) \|", line).group(1)
        rows.append(cell.replace("\\|", "|"))
    return rows


def md_options(program, command):
    md = generate(program, "markdown")
    part = md[md.index(f"### `{command}`"):]
    part = part[part.index("| option |"):]
    rows = []
    for line in part.splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(re.match(r"\| `([^`]*)`", line).group(1).replace("\\|", "|"))
    return rows


readme = open(os.path.join(REPO, "README.md")).read()
want = [o for o in md_options("sms-agent", "sms-agent verify") if o.startswith("-")]
got = [c.strip("`") for c in table_after(readme, "## Verifying two trees", "option")]
check("README's verify table: the options of `verify --help`, same value names",
      sorted(got) == sorted(want),
      f"only in README: {sorted(set(got) - set(want))}; "
      f"only in --help: {sorted(set(want) - set(got))}")
want = {o.split()[0][2:] for o in md_options("sms-agent", "sms-agent run")} - {"config"}
got = set()
for cell in table_after(readme, "## The agent as a service", "key"):
    got |= {k.strip("` ") for k in cell.split(",")}
check("README's run table: the settings of `run --help`", got == want,
      f"only in README: {sorted(got - want)}; only in --help: {sorted(want - got)}")

# ---- errors ----------------------------------------------------------------------
AGENT = os.path.join(BIN, "sms-agent")
with tempfile.TemporaryDirectory() as tmp:
    r = run(AGENT, "verify", os.path.join(tmp, "nonexistent"), tmp)
    check("a check that cannot start: exit 2, nothing on stdout",
          r.returncode == 2 and r.stdout == "", repr(r.stdout))
    check("a check that cannot start: the error once",
          r.stderr == f"sms-agent: source {tmp}/nonexistent: No such file or directory\n",
          repr(r.stderr))
    r = run(AGENT, "verify", "--json", os.path.join(tmp, "nonexistent"), tmp)
    report = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    check("--json still prints its object, with the error",
          r.returncode == 2 and report.get("check_result") == "failed" and
          "nonexistent" in report.get("error_msg", ""), r.stdout)
    check("--json: the error once on stderr", r.stderr.count("nonexistent") == 1, r.stderr)
    # Nothing listens on loopback port 1: ssh fails at once, with its reason.
    r = run(AGENT, "verify", tmp, "ssh://127.0.0.1:1/tmp", "--ssh-option=-oBatchMode=yes",
            "--ssh-option=-oStrictHostKeyChecking=no", "--ssh-option=-F/dev/null")
    lines = r.stderr.splitlines()
    check("ssh failure: exit 2, nothing on stdout", r.returncode == 2 and r.stdout == "",
          repr(r.stdout))
    check("ssh failure: one line, leading with ssh's own reason",
          len(lines) == 1 and lines[0].startswith(
              "sms-agent: target 127.0.0.1: ssh: connect to host 127.0.0.1 port 1: "
              "Connection refused (ssh exited with status 255"), r.stderr)

    # Numbers out of range are refused with the option and its limits, never
    # wrapped: `manifest --chunk-size -1` and `--io-limit-bytes -1` ran.
    for args, want in [
            (["verify", "--threads", "0", tmp, tmp], "--threads: Value 0 not in range 1 to 256"),
            (["verify", "--io-limit", "-1", tmp, tmp], "--io-limit: Value -1 not in range"),
            (["verify", "--spill-threshold", "0", tmp, tmp],
             "--spill-threshold: Value 0 not in range 1 to 1000000000"),
            (["verify", "--rehash-fraction", "2", tmp, tmp],
             "--rehash-fraction must be a fraction in 0..1"),
            (["verify", "--cache-max-age", "99999999d", tmp, tmp],
             "--cache-max-age must be a duration from 0 to 36500d"),
            (["manifest", "--chunk-size", "0", tmp], "--chunk-size: Value 0 not in range 4096"),
            (["manifest", "--chunk-size", "-1", tmp], "--chunk-size: Value -1 not in range"),
            (["manifest", "--io-limit-bytes", "-1", tmp], "--io-limit-bytes: Value -1 not in range")]:
        r = run(AGENT, *args)
        check(f"sms-agent {' '.join(args[:3])}: exit 2 naming the limit",
              r.returncode == 2 and want in r.stderr and r.stdout == "", repr(r.stderr))
    for args, want in [
            (["serve", "--io-threads", "300"], "--io-threads: 300: expected 0..256"),
            (["serve", "--listen", "127.0.0.1:abc"], '"127.0.0.1:abc": the port must be'),
            (["admin", "--db", f"sqlite:{tmp}/x.db", "create-credential", "--domain", "nope",
              "--user", "u"], "domain nope does not exist")]:
        r = run(os.path.join(BIN, "sms-server"), *args)
        check(f"sms-server {' '.join(args[:3])}: exit 2 naming the limit or the name",
              r.returncode == 2 and want in r.stderr, repr(r.stderr))

# ---- sms-server admin unlock-login: a typo is not silently "done" ------------------
with tempfile.TemporaryDirectory() as tmp:
    srv = os.path.join(BIN, "sms-server")
    db = f"sqlite:{tmp}/x.db"
    run(srv, "admin", "--db", db, "create-domain", "acme")
    r = run(srv, "admin", "--db", db, "create-user", "--domain", "acme", "--role", "admin",
            "--name", "alice")
    check("admin create-user: made", r.returncode == 0, r.stderr)
    r = run(srv, "admin", "--db", db, "unlock-login", "--domain", "acme", "--user", "alcie")
    check("admin unlock-login of an unknown user: cleared 0 and a note naming it",
          r.returncode == 0 and r.stdout == "cleared 0\n"
          and "domain acme has no user alcie" in r.stderr, repr((r.stdout, r.stderr)))
    r = run(srv, "admin", "--db", db, "unlock-login", "--domain", "acme", "--user", "alice")
    check("admin unlock-login of a known user: no note",
          r.returncode == 0 and r.stdout == "cleared 0\n" and r.stderr == "",
          repr((r.stdout, r.stderr)))

# ---- sms-server admin --config --------------------------------------------------
SERVER = os.path.join(BIN, "sms-server")
with tempfile.TemporaryDirectory() as tmp:
    cfg = os.path.join(tmp, "config.json")
    with open(cfg, "w") as f:
        json.dump({"listen": "127.0.0.1:0", "db": f"sqlite:{tmp}/from-config.db",
                   "public_metrics": True}, f)
    r = run(SERVER, "admin", "--config", cfg, "create-domain", "acme", cwd=tmp)
    check("admin --config: uses the file's database",
          r.returncode == 0 and os.path.exists(f"{tmp}/from-config.db"), r.stderr)
    r = run(SERVER, "admin", "--config", cfg, "--db", f"sqlite:{tmp}/flag.db",
            "create-domain", "acme", cwd=tmp)
    check("admin --config: a flag wins over the file",
          r.returncode == 0 and os.path.exists(f"{tmp}/flag.db"), r.stderr)
    r = run(SERVER, "admin", "--config", cfg, "create-domain", "acme", cwd=tmp)
    check("admin --config: the same database as before (the domain exists)",
          r.returncode == 2 and "acme" in r.stderr, r.stderr)
    with open(cfg, "w") as f:
        f.write('{"db": "sqlite:x.db", "dbpath": 1}')
    r = run(SERVER, "admin", "--config", cfg, "migrate", cwd=tmp)
    check("admin --config: an unknown key is named with the file",
          r.returncode == 2 and f'{cfg}: unknown key "dbpath"' in r.stderr, r.stderr)
    r = run(SERVER, "admin", "--config", f"{tmp}/none.json", "migrate", cwd=tmp)
    check("admin --config: a missing file is named",
          r.returncode == 2 and
          f"config file {tmp}/none.json: No such file or directory" in r.stderr, r.stderr)

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
