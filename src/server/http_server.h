// HttpServer: the network transport of the Api, on Boost.Beast/Asio.
//
// Asynchronous HTTP/1.1 with keep-alive: N I/O threads (one per core) run
// every connection, so idle agent connections cost no thread. Handlers run
// on a separate worker pool, because storage calls block (fsync); reads of
// an embedded store may run inline (HttpServerOptions::inline_reads). Limits:
// request line + headers (32 KiB), URL (8 KiB), body (per route, Api), idle
// time, open connections (max_connections). TLS when a certificate and key
// are given.
//
// Descriptors: Start() raises the soft RLIMIT_NOFILE to the hard limit.
// When max_connections are open, or accept() finds no free descriptor
// (EMFILE/ENFILE), the connection that has waited longest for a request
// (an idle keep-alive one, or one still sending its headers) is closed to
// make room; with none waiting, a new client gets 503 and is closed. On
// EMFILE the acceptor backs off (10 ms doubling to 1 s) instead of retrying
// at once. Both are counted in /metrics (sms_http_connections_*). Stop() (or
// SIGTERM/SIGINT during Run()) stops accepting, closes idle connections, lets
// in-flight requests finish and answers them with "Connection: close".
// Thread-safety: Stop() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "server/api.h"

namespace sms::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: pick a free port (see port())
  int io_threads = 0;    // 0: one per core
  // 0: 4 x cores, at least 4. Writers queue into SQLite's group commit, so
  // a few per core are enough to fill its batches; more only add context
  // switches (measured: 8 workers on 2 cores 2,280-2,340 durable POST/s,
  // 16 workers 1,870-1,890/s, 4 workers 1,570-1,770/s).
  int worker_threads = 0;
  size_t max_header_bytes = 32 * 1024;
  int idle_timeout_s = 75;
  // The most connections open at once; 0: the descriptor limit (the soft
  // RLIMIT_NOFILE after Start() raised it) less kReservedDescriptors, which
  // are kept for the database, logs and console files.
  int max_connections = 0;
  static constexpr int kReservedDescriptors = 64;
  int shutdown_grace_s = 30;
  // GET requests run on the connection's I/O thread instead of the worker
  // pool: right for an embedded store whose reads never wait on the network
  // or on writers (SQLite in WAL mode), wrong for a networked one.
  bool inline_reads = false;
  // Also inline while this answers true (set before Start; called per GET
  // from the I/O threads): a networked store whose read cache is likely to
  // answer from memory (CachingStore::LikelyServed), so that a hit does not
  // pay for two thread hops and a miss is rare.
  std::function<bool()> inline_reads_while;
  std::string tls_cert;  // PEM chain; TLS on when both are set
  std::string tls_key;
};

// The limits a connection reads one request under.
struct RequestLimits {
  size_t max_header_bytes = 32 * 1024;  // request line + headers
  size_t max_target = 8192;             // URL
  // The largest body of the route (Api::BodyLimitFor).
  std::function<size_t(std::string_view target)> body_limit_for;
};

// What the transport makes of bytes received on a connection.
struct RequestReading {
  enum class Outcome {
    kRequest,     // a complete request, handed to the Api
    kRefused,     // answered by the transport (status, message), closed
    kIncomplete,  // the bytes end before the request does
    kClosed,      // closed without an answer (nothing received)
  };
  Outcome outcome = Outcome::kIncomplete;
  int status = 0;       // kRefused
  std::string message;  // kRefused
  HttpRequest request;  // kRequest
};

// Reads the first request of `bytes`, arriving in pieces of `piece` bytes,
// with the parser, limits and checks of a connection (without a socket:
// for the fuzzer, fuzz/http_request_fuzz.cc, and tests).
RequestReading ReadRequest(std::string_view bytes, const RequestLimits& limits,
                           size_t piece);

class HttpServer final {
 public:
  HttpServer(Api& api, Metrics& metrics, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; fails when the address is taken or TLS files are bad.
  [[nodiscard]] core::Status Start();
  // The bound port (after Start()).
  uint16_t port() const;
  // The connection cap in force (after Start()).
  int max_connections() const;
  // Serves until Stop() or SIGTERM/SIGINT, then drains and returns.
  void Run();
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sms::server
