// The only translation unit that includes Boost.Beast.
#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <ctime>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace sms::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::string HttpDate() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// What a session needs from the server.
struct ServerShared {
  Api* api;
  Metrics* metrics;
  const HttpServerOptions* options;
  asio::thread_pool* workers;
  std::atomic<bool> stopping{false};
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Called on shutdown: close if idle, else finish the current request and
  // close after answering it.
  virtual void Shutdown() = 0;
};

// One connection. Stream is beast::tcp_stream or an ssl_stream over it.
template <class Stream>
class Session final : public SessionBase,
                      public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, ServerShared& shared, std::string remote)
      : stream_(std::move(stream)),
        shared_(shared),
        remote_(std::move(remote)) {
    shared_.metrics->AddOpenConnections(1);
  }
  ~Session() override { shared_.metrics->AddOpenConnections(-1); }

  void Start() {
    asio::dispatch(Executor(),
                   [self = this->shared_from_this()] { self->Handshake(); });
  }

  void Shutdown() override {
    asio::post(Executor(), [self = this->shared_from_this()] {
      self->closing_ = true;
      if (self->idle_) self->Close();
    });
  }

 private:
  auto Executor() { return beast::get_lowest_layer(stream_).get_executor(); }

  void Handshake() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      ReadHeader();
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](beast::error_code ec) {
            if (ec) return;
            self->ReadHeader();
          });
    }
  }

  void ReadHeader() {
    if (closing_) return Close();
    idle_ = buffer_.size() == 0;
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(shared_.options->max_header_bytes));
    parser_->body_limit(shared_.api->options().max_details_body);
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::seconds(shared_.options->idle_timeout_s));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) {
          self->OnHeader(ec);
        });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec == http::error::header_limit) {
      return SendError(ApiCode::kTooLarge,
                       "request headers: larger than " +
                           std::to_string(shared_.options->max_header_bytes) +
                           " bytes",
                       431);
    }
    if (ec)
      return SendError(ApiCode::kMalformed, "malformed HTTP request", 400);
    auto& req = parser_->get();
    std::string target(req.target());
    if (target.size() > shared_.api->options().max_target) {
      return SendError(ApiCode::kMalformed,
                       "URL: longer than " +
                           std::to_string(shared_.api->options().max_target) +
                           " bytes",
                       414);
    }
    const size_t limit = shared_.api->BodyLimitFor(target);
    if (auto len = parser_->content_length(); len && *len > limit) {
      return SendError(
          ApiCode::kTooLarge,
          "request body: larger than " + std::to_string(limit) + " bytes", 413);
    }
    parser_->body_limit(limit);
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(
          http::status::continue_, 11);
      http::async_write(stream_, *cont,
                        [self = this->shared_from_this(), cont](
                            beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](
                         beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return SendError(ApiCode::kTooLarge, "request body: too large", 413);
    }
    if (ec) return Close();
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    auto hreq = std::make_shared<HttpRequest>();
    hreq->method = std::string(req.method_string());
    hreq->target = std::string(req.target());
    for (const auto& f : req)
      hreq->headers.emplace_back(std::string(f.name_string()),
                                 std::string(f.value()));
    hreq->body = std::move(req.body());
    hreq->remote = remote_;
    const bool read_only = shared_.api->ReadOnly(hreq->method, hreq->target);
    if (read_only && shared_.options->inline_reads) {
      // Reads of an embedded store: here, saving two thread hops.
      return Write(HandleSafely(*hreq, read_only));
    }
    // Storage calls block: run the handler on the worker pool, then come
    // back to this connection's strand to write.
    asio::post(*shared_.workers, [self = this->shared_from_this(), hreq,
                                  read_only] {
      auto resp =
          std::make_shared<HttpResponse>(self->HandleSafely(*hreq, read_only));
      asio::post(self->Executor(),
                 [self, resp] { self->Write(std::move(*resp)); });
    });
  }

  // The adapter boundary: an exception from a library (std::bad_alloc, a
  // Boost.JSON accessor misuse) becomes a 500 for this request instead of
  // terminating the process and every other connection.
  HttpResponse HandleSafely(const HttpRequest& req, bool read_only) {
    try {
      return shared_.api->Handle(req, read_only);
    } catch (const std::exception& e) {
      std::string line = ToJson(
          json::object{{"level", "error"},
                       {"msg", "unhandled exception"},
                       {"method", req.method},
                       {"route", req.target.substr(0, req.target.find('?'))}});
      std::fprintf(stderr, "%s\n", line.c_str());
      return Api::ErrorResponse(
          ApiError{ApiCode::kInternal, "internal error", e.what(), 0}, "-");
    }
  }

  void SendError(ApiCode code, std::string message, int status) {
    keep_alive_ = false;
    HttpResponse r =
        Api::ErrorResponse(ApiError{code, std::move(message), "", 0}, "-");
    r.status = status;
    Write(std::move(r));
  }

  void Write(HttpResponse r) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->result(static_cast<unsigned>(r.status));
    res->version(11);
    res->set(http::field::server, "sms-server");
    res->set(http::field::date, HttpDate());
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->body() = std::move(r.body);
    const bool keep = keep_alive_ && !closing_ && !shared_.stopping.load();
    res->keep_alive(keep);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, keep](
                          beast::error_code ec, size_t) {
                        if (ec || !keep) return self->Close();
                        self->ReadHeader();
                      });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(
        tcp::socket::shutdown_send, ec);
    beast::get_lowest_layer(stream_).close();
  }

  Stream stream_;
  ServerShared& shared_;
  const std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool idle_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

int Cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
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
        signals_(ioc_, SIGTERM, SIGINT),
        ssl_ctx_(ssl::context::tls_server) {
    shared_.api = &api;
    shared_.metrics = &metrics;
    shared_.options = &options_;
    shared_.workers = &workers_;
  }

  core::Status Start() {
    if (!options_.tls_cert.empty() || !options_.tls_key.empty()) {
      if (options_.tls_cert.empty() || options_.tls_key.empty())
        return core::Fail(core::InvalidArgument(
            "--tls-cert and --tls-key must be given together"));
      beast::error_code ec;
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
    beast::error_code ec;
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

  void Run() {
    signals_.async_wait([this](beast::error_code ec, int) {
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
  }

  void Stop() {
    asio::post(ioc_, [this] {
      if (shared_.stopping.exchange(true)) return;
      beast::error_code ec;
      acceptor_.close(ec);
      signals_.cancel(ec);
      std::lock_guard lock(mu_);
      for (auto& w : sessions_)
        if (auto s = w.lock()) s->Shutdown();
      sessions_.clear();
      // Hard deadline: connections still open after the grace period are
      // dropped.
      deadline_.emplace(ioc_);
      deadline_->expires_after(std::chrono::seconds(options_.shutdown_grace_s));
      deadline_->async_wait([this](beast::error_code ec) {
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
    poll_->async_wait([this](beast::error_code ec) {
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
        home, [this](beast::error_code ec, tcp::socket socket) {
          if (ec) {
            if (!shared_.stopping.load() && acceptor_.is_open()) Accept();
            return;
          }
          beast::error_code ep_ec;
          auto ep = socket.remote_endpoint(ep_ec);
          std::string remote = ep_ec ? "" : ep.address().to_string();
          std::shared_ptr<SessionBase> base;
          if (tls_) {
            auto s =
                std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                    beast::ssl_stream<beast::tcp_stream>(
                        beast::tcp_stream(std::move(socket)), ssl_ctx_),
                    shared_, remote);
            s->Start();
            base = s;
          } else {
            auto s = std::make_shared<Session<beast::tcp_stream>>(
                beast::tcp_stream(std::move(socket)), shared_, remote);
            s->Start();
            base = s;
          }
          {
            std::lock_guard lock(mu_);
            // Forget finished sessions now and then.
            if (all_.size() > 1024) {
              all_.remove_if([](const auto& w) { return w.expired(); });
              sessions_.remove_if([](const auto& w) { return w.expired(); });
            }
            sessions_.push_back(base);
            all_.push_back(base);
          }
          if (!shared_.stopping.load()) Accept();
        });
  }

  HttpServerOptions options_;
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (int i = 0; i < n; ++i)
      out.push_back(std::make_unique<asio::io_context>(1));
    return out;
  }

  const int io_threads_;
  // One single-threaded context per I/O thread; the first also runs the
  // acceptor, signals and shutdown timers.
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  asio::io_context& ioc_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards_;
  size_t next_context_ = 0;  // on ioc_ only
  asio::thread_pool workers_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  ssl::context ssl_ctx_;
  bool tls_ = false;
  uint16_t port_ = 0;
  ServerShared shared_;
  std::optional<asio::steady_timer> deadline_;
  std::optional<asio::steady_timer> poll_;
  std::mutex mu_;
  // Guarded by mu_.
  std::list<std::weak_ptr<SessionBase>> sessions_;
  std::list<std::weak_ptr<SessionBase>> all_;
};

HttpServer::HttpServer(Api& api, Metrics& metrics, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(api, metrics, std::move(options))) {}
HttpServer::~HttpServer() = default;
core::Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::Run() { impl_->Run(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace sms::server
