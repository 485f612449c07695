// HttpServer's acceptor and lifecycle: binds, deals accepted sockets to the
// I/O threads' contexts as connections (http/connection.h), keeps the
// connection cap (evicting the longest-waiting connection, backing off when
// descriptors run out) and drains on Stop(). Reading requests and writing
// answers live in http/request_reader.* and http/response_writer.*.
#include "server/http_server.h"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "server/http/connection.h"
#include "server/http/response_writer.h"

namespace sms::server {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using http::Connection;

namespace {

int Cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Raises the soft RLIMIT_NOFILE to the hard limit (systemd and most shells
// start services at 1024, far below what a server of idle keep-alive
// connections needs) and returns the soft limit in force.
rlim_t RaiseDescriptorLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit want = lim;
    want.rlim_cur = lim.rlim_max;
    // RLIM_INFINITY is refused for descriptors: keep the old soft limit.
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) lim = want;
  }
  return lim.rlim_cur;
}

bool OutOfDescriptors(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors ||  // EMFILE
         ec.value() == ENFILE || ec.value() == ENOBUFS || ec.value() == ENOMEM;
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(Api& api, Metrics& metrics, HttpServerOptions options)
      : options_(std::move(options)),
        io_threads_(options_.io_threads > 0 ? options_.io_threads : Cores()),
        contexts_(MakeContexts(io_threads_)),
        ioc_(*contexts_[0]),
        workers_(static_cast<size_t>(options_.worker_threads > 0
                                         ? options_.worker_threads
                                         : std::max(4, 4 * Cores()))),
        acceptor_(ioc_),
        accept_timer_(ioc_),
        signals_(ioc_, SIGTERM, SIGINT),
        ssl_ctx_(ssl::context::tls_server) {
    shared_.api = &api;
    shared_.metrics = &metrics;
    shared_.options = &options_;
    shared_.workers = &workers_;
    shared_.limits.max_header_bytes = options_.max_header_bytes;
    shared_.limits.max_target = api.options().max_target;
    shared_.limits.body_limit_for = [&api](std::string_view target) {
      return api.BodyLimitFor(target);
    };
  }

  core::Status Start() {
    const rlim_t descriptors = RaiseDescriptorLimit();
    max_connections_ = options_.max_connections;
    if (max_connections_ <= 0) {
      const rlim_t room =
          descriptors > 2 * HttpServerOptions::kReservedDescriptors
              ? descriptors - HttpServerOptions::kReservedDescriptors
              : descriptors / 2;
      max_connections_ = static_cast<int>(
          std::min<rlim_t>(room, std::numeric_limits<int>::max()));
    }
    if (!options_.tls_cert.empty() || !options_.tls_key.empty()) {
      if (options_.tls_cert.empty() || options_.tls_key.empty())
        return core::Fail(core::InvalidArgument(
            "--tls-cert and --tls-key must be given together"));
      boost::system::error_code ec;
      ssl_ctx_.set_options(ssl::context::default_workarounds |
                           ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      ssl_ctx_.use_certificate_chain_file(options_.tls_cert, ec);
      if (ec)
        return core::Fail(core::InvalidArgument("--tls-cert: " + ec.message()));
      ssl_ctx_.use_private_key_file(options_.tls_key, ssl::context::pem, ec);
      if (ec)
        return core::Fail(core::InvalidArgument("--tls-key: " + ec.message()));
      tls_ = true;
    }
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(options_.host, ec);
    if (ec)
      return core::Fail(
          core::InvalidArgument("--listen: bad address " + options_.host));
    tcp::endpoint ep(addr, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return core::Fail(core::Unavailable("listen on " + options_.host + ":" +
                                          std::to_string(options_.port) + ": " +
                                          ec.message()));
    port_ = acceptor_.local_endpoint().port();
    return core::Ok();
  }

  uint16_t port() const { return port_; }
  int max_connections() const { return max_connections_; }

  void Run() {
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (!ec) Stop();
    });
    Accept();
    // The other threads' contexts have only connections to run: keep them
    // running until the drain (Stop) lets them go.
    for (size_t i = 1; i < contexts_.size(); ++i)
      guards_.emplace_back(contexts_[i]->get_executor());
    std::vector<std::thread> threads;
    for (size_t i = 1; i < contexts_.size(); ++i)
      threads.emplace_back([this, i] { contexts_[i]->run(); });
    ioc_.run();
    for (auto& t : threads) t.join();
    workers_.join();
    // An async request still waiting for its record (the I/O threads were
    // stopped by the hard deadline): the ledger's thread will post its
    // answer to a context of this server and drop its connection, so the
    // server must outlive both. The record is a store call bounded by the
    // store's own timeouts, so this wait is too; the last callback to go
    // wakes it.
    shared_.async_pending.WaitForNone();
  }

  void Stop() {
    asio::post(ioc_, [this] {
      if (shared_.stopping.exchange(true)) return;
      boost::system::error_code ec;
      acceptor_.close(ec);
      accept_timer_.cancel();
      signals_.cancel(ec);
      std::lock_guard lock(mu_);
      for (auto& w : sessions_)
        if (auto s = w.lock()) s->Shutdown();
      sessions_.clear();
      // Hard deadline: connections still open after the grace period are
      // dropped.
      deadline_.emplace(ioc_);
      deadline_->expires_after(std::chrono::seconds(options_.shutdown_grace_s));
      deadline_->async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        for (auto& c : contexts_) c->stop();
      });
      // The deadline timer must not keep a drained server alive: poll for
      // the end of all sessions.
      WaitForSessions();
    });
  }

 private:
  void WaitForSessions() {
    if (shared_.metrics == nullptr) return;
    poll_.emplace(ioc_);
    poll_->expires_after(std::chrono::milliseconds(50));
    poll_->async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      bool alive = false;
      {
        std::lock_guard lock(mu_);
        for (auto& w : all_)
          if (!w.expired()) alive = true;
      }
      if (!alive) {
        if (deadline_) deadline_->cancel();
        for (auto& g : guards_) g.reset();
        return;
      }
      WaitForSessions();
    });
  }

  void Accept() {
    // Connections are dealt round-robin to the I/O threads' contexts; each
    // connection then lives on one thread, with no strand and no wake-ups
    // across threads.
    asio::io_context& home = *contexts_[next_context_++ % contexts_.size()];
    acceptor_.async_accept(
        home, [this](boost::system::error_code ec, tcp::socket socket) {
          if (shared_.stopping.load() || !acceptor_.is_open()) return;
          if (ec && OutOfDescriptors(ec)) return BackOff(ec);
          if (ec) return Accept();  // the client left (ECONNABORTED, ...)
          accept_backoff_ = std::chrono::milliseconds(0);
          if (shared_.open_connections.load() >= max_connections_ &&
              !EvictLongestWaiting()) {
            return RefuseBusy(std::move(socket));
          }
          boost::system::error_code ep_ec;
          auto ep = socket.remote_endpoint(ep_ec);
          std::string remote = ep_ec ? "" : ep.address().to_string();
          std::shared_ptr<Connection> base = http::StartConnection(
              std::move(socket), tls_ ? &ssl_ctx_ : nullptr, shared_,
              std::move(remote));
          {
            std::lock_guard lock(mu_);
            // Forget finished sessions now and then (when the lists have
            // doubled since the last sweep: amortised O(1) per accept).
            if (all_.size() > 2 * swept_size_) {
              all_.remove_if([](const auto& w) { return w.expired(); });
              sessions_.remove_if([](const auto& w) { return w.expired(); });
              swept_size_ = std::max<size_t>(512, all_.size());
            }
            sessions_.push_back(base);
            all_.push_back(base);
          }
          if (!shared_.stopping.load()) Accept();
        });
  }

  // accept() found no free descriptor. The client stays in the listen
  // backlog, so retrying at once would fail again at once (the acceptor
  // spinning on a core): make room by closing the connection that has
  // waited longest for a request, and try again after a pause that doubles
  // while descriptors stay short (10 ms .. 1 s).
  void BackOff(const boost::system::error_code& ec) {
    shared_.metrics->AddConnectionRefused(Metrics::Refusal::kNoDescriptor);
    EvictLongestWaiting();
    if (accept_backoff_.count() == 0) {
      accept_backoff_ = std::chrono::milliseconds(10);
      std::string line = ToJson(json::object{
          {"level", "warn"},
          {"msg",
           "accept: " + ec.message() +
               "; backing off (raise LimitNOFILE or lower max_connections)"},
          {"open_connections", shared_.open_connections.load()}});
      std::fprintf(stderr, "%s\n", line.c_str());
    } else {
      accept_backoff_ =
          std::min(accept_backoff_ * 2, std::chrono::milliseconds(1000));
    }
    accept_timer_.expires_after(accept_backoff_);
    accept_timer_.async_wait([this](boost::system::error_code wait_ec) {
      if (!wait_ec && !shared_.stopping.load()) Accept();
    });
  }

  // max_connections are open and none waits for a request: a short 503
  // (non-blocking; a full socket buffer just loses it), then close.
  void RefuseBusy(tcp::socket socket) {
    shared_.metrics->AddConnectionRefused(Metrics::Refusal::kMaxConnections);
    const std::string busy = http::BusyResponse();
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    if (!ec) socket.write_some(asio::buffer(busy), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
    Accept();
  }

  // Closes the connection that has waited longest for a request (idle
  // keep-alive, or headers still arriving); false when none waits.
  bool EvictLongestWaiting() {
    std::shared_ptr<Connection> oldest;
    int64_t since = std::numeric_limits<int64_t>::max();
    {
      std::lock_guard lock(mu_);
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        auto s = it->lock();
        if (!s) {
          it = sessions_.erase(it);
          continue;
        }
        const int64_t t = s->waiting_since();
        if (t != 0 && t < since && !s->evicting()) {
          since = t;
          oldest = s;
        }
        ++it;
      }
    }
    if (!oldest || !oldest->MarkEvicting()) return false;
    shared_.metrics->AddConnectionRefused(Metrics::Refusal::kIdleClosed);
    oldest->Evict();
    return true;
  }

  HttpServerOptions options_;
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (int i = 0; i < n; ++i)
      out.push_back(std::make_unique<asio::io_context>(1));
    return out;
  }

  const int io_threads_;
  // What every connection uses; declared before the contexts so that
  // sessions still held by their queued handlers go before it.
  http::ServerShared shared_;
  // One single-threaded context per I/O thread; the first also runs the
  // acceptor, signals and shutdown timers.
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  asio::io_context& ioc_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards_;
  size_t next_context_ = 0;  // on ioc_ only
  asio::thread_pool workers_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_timer_;  // the pause after EMFILE (BackOff)
  asio::signal_set signals_;
  ssl::context ssl_ctx_;
  bool tls_ = false;
  uint16_t port_ = 0;
  std::optional<asio::steady_timer> deadline_;
  std::optional<asio::steady_timer> poll_;
  std::mutex mu_;
  // Guarded by mu_.
  std::list<std::weak_ptr<Connection>> sessions_;
  std::list<std::weak_ptr<Connection>> all_;
  size_t swept_size_ = 512;
  // On ioc_ only.
  int max_connections_ = 0;
  std::chrono::milliseconds accept_backoff_{0};
};

HttpServer::HttpServer(Api& api, Metrics& metrics, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(api, metrics, std::move(options))) {}
HttpServer::~HttpServer() = default;
core::Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
int HttpServer::max_connections() const { return impl_->max_connections(); }
void HttpServer::Run() { impl_->Run(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace sms::server
