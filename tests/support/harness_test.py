#!/usr/bin/env python3
"""The harness's servers do not outlive it (tests/support/harness.py, guard).

usage: harness_test.py BUILD_DIR

A child Python process (the "owner") starts two sms-servers through
harness.ServerProcess, one from its main thread and one from a thread that
ends at once (a parent-death signal would kill that one early), and waits.
  - both servers still answer after the starting thread ended;
  - the owner SIGKILLed (no atexit, no signal handler runs): both servers
    and the owner's watchdog are gone within 15 s;
  - an owner that exits normally stops its servers itself and leaves no
    watchdog behind.
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 only when all pass.
"""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import check, scratch_dir, summary_status, wait_for  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
SERVER_BIN = os.path.join(BUILD, "bin", "sms-server")

# The owner: prints "pids SERVER SERVER WATCHDOG", then waits for a line on
# stdin ("exit") or to be killed.
OWNER = r"""
import os, sys, threading
sys.path.insert(0, sys.argv[1])
import harness
server_bin, tmp = sys.argv[2], sys.argv[3]
servers = [harness.ServerProcess(server_bin,
                                 ["--db", f"sqlite:{tmp}/{name}.db",
                                  "--console-dir", "none"],
                                 f"{tmp}/server-{name}.log")
           for name in ("main", "thread")]
servers[0].start()
t = threading.Thread(target=servers[1].start)
t.start()
t.join()
print("pids", servers[0].proc.pid, servers[1].proc.pid,
      harness._watchdog["proc"].pid, flush=True)
sys.stdin.readline()
"""


def alive(pid):
    """True while pid runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_owner(tmp):
    owner = subprocess.Popen([sys.executable, "-c", OWNER, HERE, SERVER_BIN,
                              tmp], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    line = owner.stdout.readline().split()
    if len(line) != 4 or line[0] != "pids":
        owner.kill()
        owner.wait()
        raise RuntimeError(f"owner did not start its servers: {line}")
    return owner, [int(x) for x in line[1:]]


def main():
    if not os.path.exists(SERVER_BIN):
        print(f"SKIP: {SERVER_BIN} not built")
        return 77
    tmp = scratch_dir("sms-harness-test.")

    owner, (main_pid, thread_pid, dog_pid) = start_owner(tmp)
    try:
        time.sleep(1)  # the starting thread is long gone
        check("both servers run after the thread that started one ended",
              alive(main_pid) and alive(thread_pid))
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        gone = wait_for(lambda: not any(
            alive(p) for p in (main_pid, thread_pid, dog_pid)), 15, 0.1)
        check("the owner SIGKILLed: its servers and watchdog are gone",
              gone, f"alive: {[p for p in (main_pid, thread_pid, dog_pid) if alive(p)]}")
    finally:
        for pid in (main_pid, thread_pid, dog_pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    owner, (main_pid, thread_pid, dog_pid) = start_owner(tmp)
    owner.stdin.write("exit\n")
    owner.stdin.flush()
    rc = owner.wait(timeout=60)
    left = [p for p in (main_pid, thread_pid, dog_pid) if alive(p)]
    check("an owner that exits stops its servers and its watchdog",
          rc == 0 and not left, f"rc={rc} alive: {left}")
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return summary_status()


if __name__ == "__main__":
    sys.exit(main())
