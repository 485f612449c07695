#!/usr/bin/env python3
"""Regression tests of the HTTP transport (issue 11, item 5): raw bytes on
loopback sockets against the real sms-server.

Each case failed before its fix:
  - Content-Length over 16 MiB: 413 SMS.1006 (was 400 SMS.1002)
  - errors of the HTTP layer carry the client's X-Request-Id, or a new one
    (was "-")
  - HTTP/1.1 without Host, or any request with two: 400 (RFC 9112 §3.2;
    was served)
  - a malformed chunk size: 400 before the close (was a bare close)
  - a chunked body whose lines end with a bare LF: 400 at once (was held
    until the 60 s body timeout)

Usage: http_transport_test.py BUILD_DIR
"""
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
from harness import (check, raw_exchange, scratch_dir,  # noqa: E402
                     ServerProcess, summary_status)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                  r"[0-9a-f]{12}$")
DETAILS = "/v3/tasks/00000000-0000-0000-0000-000000000000/" \
          "consistency-result/details"


def request(lines, body=b""):
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def error_code(r):
    j = r.json()
    return j.get("error_code") if isinstance(j, dict) else None


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    work = scratch_dir("sms-transport-")
    srv = ServerProcess(os.path.join(build, "bin", "sms-server"),
                        ["--db", f"sqlite:{work}/sms.db",
                         "--console-dir", "none"],
                        os.path.join(work, "server.log"))
    srv.start()
    port = srv.port
    try:
        # Content-Length over the largest body (16 MiB): 413 SMS.1006,
        # answered from the headers alone.
        r = raw_exchange(port, request([
            f"POST {DETAILS} HTTP/1.1", "Host: t",
            "Content-Type: application/json",
            "Content-Length: 20000000", "X-Request-Id: rid-413"]))
        check("content-length over 16 MiB: 413", r.status == 413,
              f"status {r.status}")
        check("content-length over 16 MiB: SMS.1006",
              error_code(r) == "SMS.1006", r.body[:200])
        check("content-length over 16 MiB: client's X-Request-Id",
              r.headers.get("x-request-id") == "rid-413",
              r.headers.get("x-request-id"))
        # Over a route's own 1 MiB (unchanged: 413 naming the limit).
        r = raw_exchange(port, request([
            "POST /v3/tasks HTTP/1.1", "Host: t",
            "Content-Type: application/json", "Content-Length: 2000000"]))
        check("content-length over 1 MiB: 413 SMS.1006",
              r.status == 413 and error_code(r) == "SMS.1006", r.body[:200])

        # Request ids on transport errors: a new UUID when the client sent
        # none, never "-".
        r = raw_exchange(port, request([
            "GET /healthz HTTP/1.1", "Host: t",
            "X-Big: " + "a" * 40000]))
        check("headers over 32 KiB: 431", r.status == 431, f"{r.status}")
        check("431: a generated X-Request-Id (UUID)",
              UUID.match(r.headers.get("x-request-id", "")) is not None,
              r.headers.get("x-request-id"))
        r = raw_exchange(port, request([
            "GET /healthz HTTP/1.1", "Host: t", "X-Request-Id: rid-414",
            "X-Pad: x"]).replace(b"/healthz", b"/" + b"a" * 9000))
        check("URL over 8 KiB: 414 with the client's X-Request-Id",
              r.status == 414 and r.headers.get("x-request-id") == "rid-414",
              f"{r.status} {r.headers.get('x-request-id')}")

        # Host (RFC 9112 §3.2).
        r = raw_exchange(port, request([
            "GET /healthz HTTP/1.1", "X-Request-Id: rid-host"]))
        check("HTTP/1.1 without Host: 400 SMS.1002",
              r.status == 400 and error_code(r) == "SMS.1002",
              f"{r.status} {r.body[:200]}")
        check("HTTP/1.1 without Host: client's X-Request-Id",
              r.headers.get("x-request-id") == "rid-host",
              r.headers.get("x-request-id"))
        r = raw_exchange(port, request([
            "GET /healthz HTTP/1.1", "Host: a", "Host: b"]))
        check("two Host headers: 400", r.status == 400, f"{r.status}")
        r = raw_exchange(port, request([
            "GET /healthz HTTP/1.0", "Host: a", "Host: b"]))
        check("HTTP/1.0 with two Host headers: 400", r.status == 400,
              f"{r.status}")
        r = raw_exchange(port, request(["GET /healthz HTTP/1.0"]))
        check("HTTP/1.0 without Host: served", r.status == 200, f"{r.status}")
        r = raw_exchange(port, request(["GET /healthz HTTP/1.1", "Host: a"]))
        check("HTTP/1.1 with one Host: served", r.status == 200,
              f"{r.status}")

        # Chunked bodies.
        chunked = ["POST /v3/tasks HTTP/1.1", "Host: t",
                   "Content-Type: application/json",
                   "Transfer-Encoding: chunked", "X-Request-Id: rid-chunk"]
        r = raw_exchange(port, request(chunked, b"zz\r\n{}\r\n0\r\n\r\n"))
        check("malformed chunk size: 400 before the close",
              r.status == 400 and error_code(r) == "SMS.1002",
              f"{r.status} {r.body[:200]}")
        check("malformed chunk size: client's X-Request-Id",
              r.headers.get("x-request-id") == "rid-chunk",
              r.headers.get("x-request-id"))
        r = raw_exchange(port, request(chunked, b"2;=\r\n{}\r\n0\r\n\r\n"))
        check("malformed chunk extension: 400", r.status == 400,
              f"{r.status}")
        r = raw_exchange(port, request(chunked, b"2\n{}\n0\n\n"), timeout=15)
        check("bare-LF chunked body: 400", r.status == 400,
              f"{r.status} {r.body[:200]}")
        check("bare-LF chunked body: answered at once (< 2 s)",
              r.seconds < 2.0, f"{r.seconds:.1f} s")
        r = raw_exchange(port, request(chunked, b"2\r\n{}\r\n0\n\n"),
                         timeout=15)
        check("bare-LF after the last chunk: 400 at once",
              r.status == 400 and r.seconds < 2.0,
              f"{r.status} {r.seconds:.1f} s")
        r = raw_exchange(port, request(chunked, b"f" * 40000), timeout=15)
        check("chunk line over 32 KiB: 400 at once",
              r.status == 400 and r.seconds < 2.0,
              f"{r.status} {r.seconds:.1f} s")
        # A well-framed chunked body (with LFs inside its data) reaches the
        # API, which asks for credentials (403 SMS.9001), not 400.
        r = raw_exchange(port, request(chunked, b"4\r\n{\n}\n\r\n0\r\n\r\n"))
        check("well-framed chunked body (LF in data): reaches the API",
              r.status == 403 and error_code(r) == "SMS.9001",
              f"{r.status} {r.body[:200]}")
        # Over the body limit in chunks: 413.
        big = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
        r = raw_exchange(port, request(chunked, big * 2 + b"0\r\n\r\n"))
        check("chunked body over 1 MiB: 413", r.status == 413, f"{r.status}")

        # The server is still healthy after all of it.
        check("still serving", srv.status("/healthz") == 200)
    finally:
        srv.stop()
    return summary_status()


if __name__ == "__main__":
    sys.exit(main())
