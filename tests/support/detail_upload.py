"""A run uploaded as an agent uploads it, over one keep-alive connection:
its file details in chunks (POST .../consistency-result/details, seq 0, 1,
...), then its commit (POST .../consistency-result). For the scripts that
upload many detail rows: security/changes_rss_test.py and
src/server/bench_details.py, bench_detail_pages.py."""
import http.client
import json


class Conn:
    """One keep-alive connection to the server, as one user (token)."""

    def __init__(self, url, token):
        host, port = url.split("//")[1].split(":")
        self.c = http.client.HTTPConnection(host, int(port), timeout=600)
        self.token = token

    def call(self, method, path, body=None):
        """The raw answer; anything but 200 raises, naming the call."""
        self.c.request(method, path, body=body, headers={
            "Content-Type": "application/json", "X-Auth-Token": self.token})
        r = self.c.getresponse()
        raw = r.read()
        if r.status != 200:
            raise AssertionError(f"{method} {path}: {r.status} {raw[:300]}")
        return raw


def new_task(client, token):
    """A source and a task of it, created through the API (`client`: a
    harness.Client): the path of the task's consistency-result."""
    _, src = client.json("POST", "/v3/sources",
                         {"name": "s", "os_type": "LINUX"}, token)
    _, task = client.json("POST", "/v3/tasks", {
        "name": "bench", "os_type": "LINUX",
        "source_server": {"id": src["id"]}, "target_server": {"name": "t"}},
        token)
    return "/v3/tasks/%s/consistency-result" % task["id"]


def encode_files(files):
    """A chunk's FileDiff objects as the compact JSON text of its "files"."""
    return json.dumps(files, separators=(",", ":")).encode()


def stage_details(conn, base, run_id, chunks):
    """Posts each chunk of `chunks` (a list of FileDiff objects, or its
    encode_files() text, made ahead when the upload is being timed) as the
    details of `run_id`, seq 0, 1, ...; `base` is
    /v3/tasks/ID/consistency-result."""
    for seq, files in enumerate(chunks):
        if not isinstance(files, bytes):
            files = encode_files(files)
        conn.call("POST", base + "/details",
                  b'{"run_id":"%s","seq":%d,"files":%s}'
                  % (run_id.encode(), seq, files))


def dir_result(dir_check, total, different):
    """A directory's counters in a run (nothing missing or extra)."""
    return {"dir_check": dir_check, "num_total_files": total,
            "num_different_files": different, "num_target_miss_files": 0,
            "num_target_more_files": 0}


def commit_run(conn, base, run_id, finished, dirs):
    """Commits `run_id` (successful, finished at `finished` epoch ms) with
    the directories `dirs` (dir_result()s)."""
    conn.call("POST", base, json.dumps({
        "run_id": run_id, "finished_time": finished,
        "consistency_result": dirs}).encode())
