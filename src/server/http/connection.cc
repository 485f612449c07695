#include "server/http/connection.h"

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <optional>

#include "auth/crypto.h"
#include "server/http/request_reader.h"
#include "server/http/response_writer.h"

namespace sms::server::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// One connection. Stream is beast::tcp_stream or an ssl_stream over it.
template <class Stream>
class Session final : public Connection,
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
    bhttp::async_read_header(
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
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(
          bhttp::status::continue_, 11);
      bhttp::async_write(stream_, *cont,
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
    const Api::Running how = shared_.api->HowToRun(hreq->method, hreq->target);
    if (how == Api::Running::kAsync) return StartAsync(std::move(hreq));
    const bool read_only = how == Api::Running::kRead;
    if (read_only && ReadsInline()) {
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

  // Whether a store read may run on this I/O thread now
  // (HttpServerOptions::inline_reads, inline_reads_while).
  bool ReadsInline() const {
    return shared_.options->inline_reads ||
           (shared_.options->inline_reads_while &&
            shared_.options->inline_reads_while());
  }

  // An async route: its first part (authentication, the route's checks:
  // reads) runs where a read would; the Api queues the signature's record
  // and returns, and the rest runs where `resume` puts it once the record
  // is durable. No thread waits for the record meanwhile.
  void StartAsync(std::shared_ptr<HttpRequest> hreq) {
    // What the Api's callbacks hold of this connection: counted while it
    // lives (ServerShared::async_pending), so the server outlives the last
    // of them, wherever it is dropped (the ledger's thread included).
    struct Link {
      explicit Link(std::shared_ptr<Session> s)
          : self(std::move(s)), shared(self->shared_) {
        shared.async_pending.Add();
      }
      ~Link() {
        self.reset();  // may end the session, which uses `shared`
        shared.async_pending.Done();
      }
      std::shared_ptr<Session> self;
      ServerShared& shared;
    };
    auto link = std::make_shared<Link>(this->shared_from_this());
    // The resumed part may write (a poll that hands over a command), so it
    // never runs on an I/O thread, where waiting for the write lock behind
    // other commits' fsyncs would stall every connection of that thread
    // (measured: 10,000 agents, polls stalled up to 74 s). Over SQLite it
    // runs on the ledger's thread that called back (a writer already: one
    // thread hop for the answer, none more); over a networked store on the
    // worker pool, so that the ledger's next batch does not wait for its
    // round trips (inline too once the server stops: the pool may be
    // gone).
    auto resume = [link](std::function<void()> work) {
      const ServerShared& shared = link->shared;
      if (shared.options->inline_reads || shared.stopping.load()) return work();
      asio::post(*shared.workers, std::move(work));
    };
    auto respond = [link](HttpResponse r) {
      // Written at once when already on this connection's thread.
      asio::dispatch(link->self->Executor(),
                     [self = link->self, r = std::move(r)]() mutable {
                       self->Write(std::move(r));
                     });
    };
    auto start = [link, hreq = std::move(hreq), resume = std::move(resume),
                  respond = std::move(respond)]() mutable {
      link->shared.api->HandleAsync(std::move(hreq), std::move(resume),
                                    std::move(respond));
    };
    if (ReadsInline()) return start();
    asio::post(*shared_.workers, std::move(start));
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
    const bool keep = keep_alive_ && !closing_ && !shared_.stopping.load();
    if (r.stream) return WriteStreamed(std::move(r), keep);
    auto res = ToBeastResponse(std::move(r), keep);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), res, keep](
                           beast::error_code ec, size_t) {
                         if (ec || !keep) return self->Close();
                         self->ReadHeader();
                       });
  }

  // A streamed body (HttpResponse::stream): the head, then one chunk per
  // piece. Each piece is produced on the worker pool (it reads the store)
  // and written before the next is asked for, so a slow client holds one
  // piece in memory and no worker.
  void WriteStreamed(HttpResponse r, bool keep) {
    auto body = std::make_shared<BodyStream>(std::move(r.stream));
    auto first = std::make_shared<std::string>(std::move(r.body));
    auto head = ToStreamedHead(r, keep);
    auto sr =
        std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*head);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    bhttp::async_write_header(stream_, *sr,
                              [self = this->shared_from_this(), head, sr, body,
                               first, keep](beast::error_code ec, size_t) {
                                if (ec) return self->Close();
                                self->WritePiece(body, first, true, keep);
                              });
  }

  void ProducePiece(std::shared_ptr<BodyStream> body, bool keep) {
    asio::post(*shared_.workers, [self = this->shared_from_this(), body, keep] {
      auto piece = std::make_shared<std::string>();
      piece->reserve(kBodyStreamPiece + kBodyStreamPiece / 4);
      core::Result<bool> more = core::Fail(core::Internal("not run"));
      try {
        more = (*body)(*piece);
      } catch (const std::exception& e) {
        more = core::Fail(core::Internal(e.what()));
      }
      asio::post(self->Executor(), [self, body, piece, more, keep] {
        self->WritePiece(body, piece, more, keep);
      });
    });
  }

  void WritePiece(std::shared_ptr<BodyStream> body,
                  std::shared_ptr<std::string> piece,
                  const core::Result<bool>& more, bool keep) {
    if (!more) {
      // Headers are gone: no error answer is possible. Closing without the
      // last chunk tells the client the body is incomplete.
      std::string line = ToJson(
          json::object{{"level", "error"},
                       {"msg", "streamed body failed; connection closed"},
                       {"error", more.error().message}});
      std::fprintf(stderr, "%s\n", line.c_str());
      keep_alive_ = false;
      return Close();
    }
    const bool last = !*more;
    if (piece->empty() && !last) return ProducePiece(body, keep);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    auto after = [self = this->shared_from_this(), body, piece, keep, last](
                     beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (!last) return self->ProducePiece(body, keep);
      self->FinishStreamed(keep);
    };
    if (piece->empty()) return after({}, 0);
    asio::async_write(stream_, bhttp::make_chunk(asio::buffer(*piece)),
                      std::move(after));
  }

  void FinishStreamed(bool keep) {
    asio::async_write(
        stream_, bhttp::make_chunk_last(),
        [self = this->shared_from_this(), keep](beast::error_code ec, size_t) {
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
  std::optional<RequestParser> parser_;
  bool keep_alive_ = true;
  bool linger_ = false;  // Close() drains first (LingeringClose)
  bool idle_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<Connection> StartConnection(tcp::socket socket,
                                            ssl::context* tls,
                                            ServerShared& shared,
                                            std::string remote) {
  if (tls != nullptr) {
    using TlsStream = beast::ssl_stream<beast::tcp_stream>;
    auto s = std::make_shared<Session<TlsStream>>(
        TlsStream(beast::tcp_stream(std::move(socket)), *tls), shared,
        std::move(remote));
    s->Start();
    return s;
  }
  auto s = std::make_shared<Session<beast::tcp_stream>>(
      beast::tcp_stream(std::move(socket)), shared, std::move(remote));
  s->Start();
  return s;
}

}  // namespace sms::server::http
