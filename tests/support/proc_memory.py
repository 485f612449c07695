"""A process's memory as Linux reports it, for the tests that bound a
server's peak RSS (security/export_rss_test.py, security/changes_rss_test.py)."""


def vm_kib(pid, field):
    """The /proc/PID/status field (VmRSS, VmHWM, ...) in KiB; 0 if absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid):
    """Resets VmHWM to the current RSS (Linux: 5 > clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
