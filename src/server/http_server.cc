// The only translation unit that includes Boost.Beast.
#include "server/http_server.h"

#include <sys/resource.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "auth/crypto.h"

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

// A request id we echo (as api.cc does): 1..128 visible ASCII characters.
bool IsSafeRequestId(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  return true;
}

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// True when a chunked body, still incomplete, has a line ended by a bare LF
// in its unparsed bytes. Beast's parser waits for a CRLF that never comes
// (until the body timeout); RFC 9112 §7.1 frames chunk lines with CRLF.
// The parser consumes chunk data as it arrives, so the unparsed bytes are
// framing only: the CRLF closing the last chunk, chunk lines, trailers.
bool HasBareLineFeed(std::string_view unparsed) {
  for (size_t lf = unparsed.find('\n'); lf != std::string_view::npos;
       lf = unparsed.find('\n', lf + 1)) {
    if (lf == 0 || unparsed[lf - 1] != '\r') return true;
  }
  return false;
}

using RequestParser = http::request_parser<http::string_body>;

// What the transport answers for a request it refuses before the Api; the
// status is HttpStatus(code), as for every answer.
struct TransportError {
  ApiCode code;
  std::string message;
};

// How a failed read of a request's headers ends: answered with `refusal`,
// or `close` when the client is gone (or idle too long) and gets no answer.
struct HeaderOutcome {
  bool close = false;
  std::optional<TransportError> refusal;
};

// A fresh parser for the next request on a connection.
void ResetParser(std::optional<RequestParser>& parser,
                 const RequestLimits& limits) {
  parser.emplace();
  parser->header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  // The body limit is the route's, set once the target is known
  // (CheckHead); Beast's own check would answer a large Content-Length as
  // a malformed request.
  parser->body_limit(boost::none);
}

// The answer to an error reading the headers.
HeaderOutcome HeaderError(const beast::error_code& ec,
                          const RequestLimits& limits) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == beast::error::timeout || ec == asio::error::operation_aborted ||
      ec == asio::error::connection_reset) {
    return {true, std::nullopt};
  }
  if (ec == http::error::header_limit) {
    return {false, TransportError{ApiCode::kHeadersTooLarge,
                                  "request headers: larger than " +
                                      std::to_string(limits.max_header_bytes) +
                                      " bytes"}};
  }
  return {false, TransportError{ApiCode::kMalformed, "malformed HTTP request"}};
}

// The checks of a complete request head that Beast does not make; on
// success sets the route's body limit on the parser.
std::optional<TransportError> CheckHead(RequestParser& parser,
                                        const RequestLimits& limits) {
  auto& req = parser.get();
  // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request
  // without Host, and to any request with more than one.
  const size_t hosts = req.count(http::field::host);
  if (hosts > 1 || (hosts == 0 && req.version() >= 11)) {
    return TransportError{ApiCode::kMalformed,
                          hosts > 1
                              ? "Host header: given more than once"
                              : "Host header: missing (HTTP/1.1 requires it)"};
  }
  const std::string_view target(req.target().data(), req.target().size());
  if (auto too_long = CheckTargetLength(target, limits.max_target))
    return TransportError{too_long->code, too_long->message};
  const size_t limit = limits.body_limit_for(target);
  if (auto len = parser.content_length(); len && *len > limit) {
    return TransportError{
        ApiCode::kTooLarge,
        "request body: larger than " + std::to_string(limit) + " bytes"};
  }
  parser.body_limit(limit);
  return std::nullopt;
}

// The answer to an error reading the body: a refusal, or nullopt when the
// client is gone and gets none.
std::optional<TransportError> BodyError(const beast::error_code& ec) {
  if (ec == http::error::body_limit)
    return TransportError{ApiCode::kTooLarge, "request body: too large"};
  // A framing error (a bad chunk size or extension): answered before the
  // close, as for a bad header.
  if (ec.category() ==
          http::make_error_code(http::error::bad_chunk).category() &&
      ec != http::error::partial_message && ec != http::error::end_of_stream)
    return TransportError{ApiCode::kMalformed,
                          "malformed request body: " + ec.message()};
  return std::nullopt;
}

// The parsed request, for the Api.
HttpRequest TakeRequest(RequestParser& parser, const std::string& remote) {
  auto req = parser.release();
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  for (const auto& f : req)
    out.headers.emplace_back(std::string(f.name_string()),
                             std::string(f.value()));
  out.body = std::move(req.body());
  out.remote = remote;
  return out;
}

enum class BodyStep { kDone, kNeedMore, kFailed };
struct BodyOutcome {
  BodyStep step;
  beast::error_code ec;                   // kFailed: Beast's error, if any
  std::optional<TransportError> refusal;  // kFailed: the answer
};

// Beast's read loop, by hand: the bytes in `buffer` go to the parser, and
// an incomplete chunked body is checked (Beast would keep reading while a
// chunk line lacks its CRLF).
BodyOutcome FeedParser(RequestParser& parser, beast::flat_buffer& buffer,
                       const RequestLimits& limits) {
  while (!parser.is_done() && buffer.size() > 0) {
    beast::error_code ec;
    const size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) break;
    if (ec) return {BodyStep::kFailed, ec, BodyError(ec)};
    if (used == 0) break;
  }
  if (parser.is_done()) return {BodyStep::kDone, {}, std::nullopt};
  if (parser.chunked()) {
    const std::string_view unparsed(
        static_cast<const char*>(buffer.data().data()), buffer.size());
    if (HasBareLineFeed(unparsed))
      return {BodyStep::kFailed,
              {},
              TransportError{ApiCode::kMalformed,
                             "chunked body: a line ends with a bare LF (CRLF "
                             "required)"}};
    if (unparsed.size() > limits.max_header_bytes)
      return {BodyStep::kFailed,
              {},
              TransportError{
                  ApiCode::kMalformed,
                  "chunked body: chunk line or trailer longer than " +
                      std::to_string(limits.max_header_bytes) + " bytes"}};
  }
  return {BodyStep::kNeedMore, {}, std::nullopt};
}

// What a session needs from the server.
struct ServerShared {
  Api* api;
  Metrics* metrics;
  const HttpServerOptions* options;
  asio::thread_pool* workers;
  RequestLimits limits;
  std::atomic<bool> stopping{false};
  std::atomic<int> open_connections{0};
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Called on shutdown: close if idle, else finish the current request and
  // close after answering it.
  virtual void Shutdown() = 0;
  // Called to make room for a new connection: close if still waiting for a
  // request; else answer the current one with "Connection: close".
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
    shared_.open_connections.fetch_add(1);
    waiting_since_.store(MonotonicNanos());
  }
  ~Session() override {
    shared_.metrics->AddOpenConnections(-1);
    shared_.open_connections.fetch_sub(1);
  }

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

  void Evict() override {
    asio::post(Executor(), [self = this->shared_from_this()] {
      if (self->waiting_since_.load() != 0) return self->Close();
      self->closing_ = true;
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
    waiting_since_.store(MonotonicNanos());
    ResetParser(parser_, shared_.limits);
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
    waiting_since_.store(0);
    if (ec) {
      HeaderOutcome o = HeaderError(ec, shared_.limits);
      if (o.close) return Close();
      return SendError(*o.refusal);
    }
    if (auto refused = CheckHead(*parser_, shared_.limits)) {
      return SendError(*refused);
    }
    auto& req = parser_->get();
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
    FeedBody();
  }

  // Beast's async_read, by hand (FeedParser between reads).
  void FeedBody() {
    BodyOutcome o = FeedParser(*parser_, buffer_, shared_.limits);
    if (o.step == BodyStep::kDone) return OnBody({});
    if (o.step == BodyStep::kFailed) {
      if (o.refusal) return SendError(*o.refusal);
      return Close();
    }
    stream_.async_read_some(
        buffer_.prepare(64 * 1024),
        [self = this->shared_from_this()](beast::error_code ec, size_t n) {
          self->buffer_.commit(n);
          if (ec) return self->OnBody(ec);
          self->FeedBody();
        });
  }

  void OnBody(beast::error_code ec) {
    if (ec) {
      if (auto refused = BodyError(ec)) return SendError(*refused);
      return Close();
    }
    keep_alive_ = parser_->get().keep_alive();
    auto hreq = std::make_shared<HttpRequest>(TakeRequest(*parser_, remote_));
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
          ApiError{ApiCode::kInternal, "internal error", e.what(), 0},
          RequestIdOf(req.headers));
    }
  }

  static std::string RequestIdOf(const Headers& headers) {
    for (const auto& [k, v] : headers)
      if (beast::iequals(k, "x-request-id") && IsSafeRequestId(v)) return v;
    return auth::NewUuid();
  }

  // The client's X-Request-Id when the headers were read, else a new one.
  std::string RequestId() {
    if (parser_ && parser_->is_header_done()) {
      auto it = parser_->get().find("x-request-id");
      if (it != parser_->get().end() && IsSafeRequestId(it->value()))
        return std::string(it->value());
    }
    return auth::NewUuid();
  }

  // An error of the transport (bad framing, limits): answered, then the
  // connection is closed, unread bytes and all.
  void SendError(const TransportError& refusal) {
    keep_alive_ = false;
    linger_ = true;
    HttpResponse r = Api::ErrorResponse(
        ApiError{refusal.code, refusal.message, "", 0}, RequestId());
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
    if (linger_ && !shared_.stopping.load()) return LingeringClose();
    closed_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(
        tcp::socket::shutdown_send, ec);
    beast::get_lowest_layer(stream_).close();
  }

  // After an error answer the client may still be sending (a body over the
  // limit): closing with unread bytes makes the kernel send RST, and the
  // client may lose the answer. Read and drop up to 1 MiB for up to 2 s
  // after shutting down our side, as nginx's lingering_close does.
  void LingeringClose() {
    linger_ = false;
    beast::error_code ec;
    auto& tcp = beast::get_lowest_layer(stream_);
    tcp.socket().shutdown(tcp::socket::shutdown_send, ec);
    tcp.expires_after(std::chrono::seconds(2));
    Drain(1 << 20);
  }

  void Drain(size_t budget) {
    auto& tcp = beast::get_lowest_layer(stream_);
    auto buf = std::make_shared<std::array<char, 16 * 1024>>();
    tcp.async_read_some(asio::buffer(*buf),
                        [self = this->shared_from_this(), buf, budget](
                            beast::error_code ec, size_t n) {
                          if (ec || n >= budget) return self->Close();
                          self->Drain(budget - n);
                        });
  }

  Stream stream_;
  ServerShared& shared_;
  const std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool linger_ = false;  // Close() drains first (LingeringClose)
  bool idle_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

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

bool OutOfDescriptors(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors ||  // EMFILE
         ec.value() == ENFILE || ec.value() == ENOBUFS || ec.value() == ENOMEM;
}

// The answer to a client over max_connections, written before closing it.
std::string BusyResponse() {
  HttpResponse r = Api::ErrorResponse(
      ApiError{ApiCode::kUnavailable,
               "server busy: too many open connections, retry later", "", 1},
      auth::NewUuid());
  std::string out = "HTTP/1.1 503 Service Unavailable\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out +=
      "Connection: close\r\nContent-Length: " + std::to_string(r.body.size()) +
      "\r\n\r\n" + r.body;
  return out;
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
  int max_connections() const { return max_connections_; }

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
          if (shared_.stopping.load() || !acceptor_.is_open()) return;
          if (ec && OutOfDescriptors(ec)) return BackOff(ec);
          if (ec) return Accept();  // the client left (ECONNABORTED, ...)
          accept_backoff_ = std::chrono::milliseconds(0);
          if (shared_.open_connections.load() >= max_connections_ &&
              !EvictLongestWaiting()) {
            return RefuseBusy(std::move(socket));
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
  void BackOff(const beast::error_code& ec) {
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
    accept_timer_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !shared_.stopping.load()) Accept();
    });
  }

  // max_connections are open and none waits for a request: a short 503
  // (non-blocking; a full socket buffer just loses it), then close.
  void RefuseBusy(tcp::socket socket) {
    shared_.metrics->AddConnectionRefused(Metrics::Refusal::kMaxConnections);
    const std::string busy = BusyResponse();
    beast::error_code ec;
    socket.non_blocking(true, ec);
    if (!ec) socket.write_some(asio::buffer(busy), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
    Accept();
  }

  // Closes the connection that has waited longest for a request (idle
  // keep-alive, or headers still arriving); false when none waits.
  bool EvictLongestWaiting() {
    std::shared_ptr<SessionBase> oldest;
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
  ServerShared shared_;
  std::optional<asio::steady_timer> deadline_;
  std::optional<asio::steady_timer> poll_;
  std::mutex mu_;
  // Guarded by mu_.
  std::list<std::weak_ptr<SessionBase>> sessions_;
  std::list<std::weak_ptr<SessionBase>> all_;
  size_t swept_size_ = 512;
  // On ioc_ only.
  int max_connections_ = 0;
  std::chrono::milliseconds accept_backoff_{0};
};

RequestReading ReadRequest(std::string_view bytes, const RequestLimits& limits,
                           size_t piece) {
  using Outcome = RequestReading::Outcome;
  piece = std::max<size_t>(piece, 1);
  std::optional<RequestParser> parser;
  ResetParser(parser, limits);
  beast::flat_buffer buffer;
  size_t pos = 0;
  // The next piece "arrives"; false at the end of the bytes.
  auto receive = [&] {
    if (pos >= bytes.size()) return false;
    const size_t n = std::min(piece, bytes.size() - pos);
    auto out = buffer.prepare(n);
    std::memcpy(out.data(), bytes.data() + pos, n);
    buffer.commit(n);
    pos += n;
    return true;
  };
  auto refused = [](const TransportError& e) {
    RequestReading r;
    r.outcome = Outcome::kRefused;
    r.status = HttpStatus(e.code);
    r.message = e.message;
    return r;
  };
  while (!parser->is_header_done()) {
    if (buffer.size() == 0 && !receive())
      return {pos == 0 ? Outcome::kClosed : Outcome::kIncomplete};
    beast::error_code ec;
    const size_t used = parser->put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) {
      if (!receive()) return {Outcome::kIncomplete};
      continue;
    }
    if (ec) {
      HeaderOutcome o = HeaderError(ec, limits);
      if (o.close) return {Outcome::kClosed};
      return refused(*o.refusal);
    }
  }
  if (auto e = CheckHead(*parser, limits)) return refused(*e);
  for (;;) {
    BodyOutcome o = FeedParser(*parser, buffer, limits);
    if (o.step == BodyStep::kDone) {
      RequestReading r;
      r.outcome = Outcome::kRequest;
      r.request = TakeRequest(*parser, "");
      return r;
    }
    if (o.step == BodyStep::kFailed) {
      if (o.refusal) return refused(*o.refusal);
      return {Outcome::kClosed};
    }
    if (!receive()) return {Outcome::kIncomplete};
  }
}

HttpServer::HttpServer(Api& api, Metrics& metrics, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(api, metrics, std::move(options))) {}
HttpServer::~HttpServer() = default;
core::Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
int HttpServer::max_connections() const { return impl_->max_connections(); }
void HttpServer::Run() { impl_->Run(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace sms::server
