// One client connection of the HttpServer: reads requests (request_reader),
// hands each to the Api, on the worker pool or inline (see
// HttpServerOptions::inline_reads), writes the answer (response_writer) and
// keeps the connection alive or closes it. Plain TCP or TLS. A request of an
// async route (Api::Async: the agent's command poll) is started where a
// read would run and answered when the Api calls back, with no thread
// waiting for it meanwhile.
// Thread-safety: a connection runs on the I/O thread of its socket's
// executor; Shutdown() and Evict() may be called from any thread (they post
// to it).
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "server/api.h"
#include "server/http_server.h"
#include "server/metrics.h"

namespace sms::server::http {

// What every connection needs from the server; outlives them all.
struct ServerShared {
  Api* api;
  Metrics* metrics;
  const HttpServerOptions* options;
  boost::asio::thread_pool* workers;
  RequestLimits limits;
  std::atomic<bool> stopping{false};
  std::atomic<int> open_connections{0};
  // Requests of async routes whose callbacks the Api (or the signature
  // ledger's thread) still holds: the server waits for them before it goes
  // away (HttpServer::Run).
  class Pending {
   public:
    void Add() { n_.fetch_add(1); }
    void Done() {
      if (n_.fetch_sub(1) != 1) return;
      // Under the mutex: the waiter is either before its check (and will
      // see 0) or asleep (and is woken).
      std::lock_guard lock(mu_);
      none_.notify_all();
    }
    // Returns once none is pending.
    void WaitForNone() {
      std::unique_lock lock(mu_);
      none_.wait(lock, [this] { return n_.load() == 0; });
    }

   private:
    std::atomic<int> n_{0};
    std::mutex mu_;
    std::condition_variable none_;
  };
  Pending async_pending;
};

// Steady-clock nanoseconds, for Connection::waiting_since().
int64_t MonotonicNanos();

// What the acceptor sees of a connection.
class Connection {
 public:
  virtual ~Connection() = default;
  // Closes if idle, else finishes the current request and closes after
  // answering it (server shutdown).
  virtual void Shutdown() = 0;
  // Makes room for a new connection: closes if still waiting for a
  // request; else answers the current one with "Connection: close".
  virtual void Evict() = 0;
  // Since when (MonotonicNanos) this connection has waited for a request,
  // headers not yet complete; 0 while a request is being read or handled.
  int64_t waiting_since() const { return waiting_since_.load(); }
  // Marks this connection chosen for eviction; false if it was already.
  bool MarkEvicting() { return !evicting_.exchange(true); }
  bool evicting() const { return evicting_.load(); }

 protected:
  std::atomic<int64_t> waiting_since_{0};
  std::atomic<bool> evicting_{false};
};

// Starts serving `socket` (a TLS handshake first when `tls` is not null)
// and returns the connection; it keeps itself alive while it has work.
std::shared_ptr<Connection> StartConnection(boost::asio::ip::tcp::socket socket,
                                            boost::asio::ssl::context* tls,
                                            ServerShared& shared,
                                            std::string remote);

}  // namespace sms::server::http
