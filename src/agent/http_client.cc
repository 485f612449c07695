#include "agent/http_client.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <optional>

namespace sms::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// CA bundles and hashed directories, first found wins (the list Go's
// crypto/x509 searches, so a static agent finds the store of any distro).
constexpr const char* kCaFiles[] = {
    "/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",    // Fedora, RHEL 6+, CentOS
    "/etc/ssl/ca-bundle.pem",              // openSUSE, SLES
    "/etc/pki/tls/cacert.pem",             // OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // CentOS, RHEL 7
    "/etc/ssl/cert.pem",                                  // Alpine
};
constexpr const char* kCaDirs[] = {"/etc/ssl/certs", "/etc/pki/tls/certs"};

// Bodies above this are refused (the server's largest page is far below).
constexpr uint64_t kMaxBody = uint64_t{1} << 30;

bool Exists(const char* path, mode_t type) {
  struct stat st;
  return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no certificates found";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// Loads the system's CA store into `ctx`: $SSL_CERT_FILE / $SSL_CERT_DIR when
// either is set (OpenSSL's own variables), else the first of kCaFiles, then
// kCaDirs. An error names the places looked at.
core::Status LoadSystemCaStore(SSL_CTX* ctx) {
  const char* file = std::getenv("SSL_CERT_FILE");
  const char* dir = std::getenv("SSL_CERT_DIR");
  if ((file != nullptr && *file != 0) || (dir != nullptr && *dir != 0)) {
    if (file != nullptr && *file == 0) file = nullptr;
    if (dir != nullptr && *dir == 0) dir = nullptr;
    if (SSL_CTX_load_verify_locations(ctx, file, dir) == 1) return core::Ok();
    return core::Fail(core::Unavailable(
        std::string("no CA certificates from SSL_CERT_FILE/SSL_CERT_DIR (") +
        (file ? file : "") + " " + (dir ? dir : "") + "): " + OpenSslError()));
  }
  for (const char* f : kCaFiles) {
    if (Exists(f, S_IFREG) &&
        SSL_CTX_load_verify_locations(ctx, f, nullptr) == 1) {
      return core::Ok();
    }
  }
  for (const char* d : kCaDirs) {
    if (Exists(d, S_IFDIR) &&
        SSL_CTX_load_verify_locations(ctx, nullptr, d) == 1) {
      return core::Ok();
    }
  }
  ERR_clear_error();
  return core::Fail(core::Unavailable(
      "no system CA store found (looked for /etc/ssl/certs/"
      "ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt and the other "
      "usual places): set ca-file or SSL_CERT_FILE"));
}

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(in.data()),
                      static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "host:port" with IPv6 brackets: CONNECT's request target.
std::string HostPort(const Url& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  return (v6 ? "[" + url.host + "]" : url.host) + ":" +
         std::to_string(url.port);
}

std::string Describe(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  if (ec == http::error::end_of_stream || ec == asio::error::eof)
    return "connection closed by the server";
  return ec.message();
}

// A kept-alive connection the server closed while idle fails like this
// before any byte of the answer: the request is sent again once, on a new
// connection (libcurl does the same).
bool IsStale(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

// The request as it goes on the wire.
http::request<http::string_body> BuildRequest(const HttpRequest& request,
                                              const Url& url,
                                              const std::optional<Url>& proxy) {
  http::request<http::string_body> req;
  req.version(11);
  const http::verb verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) {
    req.method_string(request.method);
  } else {
    req.method(verb);
  }
  // Through a proxy, plain HTTP asks for the absolute URL; HTTPS goes
  // through a CONNECT tunnel and asks the origin as usual.
  const bool forward = proxy.has_value() && url.scheme == "http";
  req.target(forward ? "http://" + url.authority + url.target : url.target);
  for (const auto& [name, value] : request.headers) req.insert(name, value);
  if (req.find(http::field::host) == req.end())
    req.set(http::field::host, url.authority);
  if (req.find(http::field::user_agent) == req.end())
    req.set(http::field::user_agent, "sms-agent");
  if (forward && !proxy->userinfo.empty()) {
    req.set(http::field::proxy_authorization,
            "Basic " + Base64(PercentDecode(proxy->userinfo)));
  }
  req.body() = request.body;
  req.prepare_payload();
  return req;
}

class BeastHttpClient final : public HttpClient {
 public:
  explicit BeastHttpClient(HttpClientOptions options)
      : options_(std::move(options)) {
    SSL_CTX* ctx = tls_.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    tls_.set_verify_mode(ssl::verify_peer);
    if (!options_.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, options_.ca_file.c_str(),
                                        nullptr) != 1) {
        tls_error_ = "ca-file " + options_.ca_file + ": " + OpenSslError();
      }
    } else if (core::Status s = LoadSystemCaStore(ctx); !s) {
      tls_error_ = s.error().message;
    }
  }
  BeastHttpClient(const BeastHttpClient&) = delete;
  BeastHttpClient& operator=(const BeastHttpClient&) = delete;

  core::Result<HttpResponse> Send(const HttpRequest& request) override {
    const std::string what = request.method + " " + request.url;
    core::Result<Url> url = ParseUrl(request.url);
    if (!url) return core::Fail(url.error());
    core::Result<std::optional<Url>> proxy = ProxyFor(options_.proxy, *url);
    if (!proxy) return core::Fail(proxy.error());
    const Clock::time_point deadline =
        Clock::now() + std::chrono::seconds(options_.timeout_s);
    http::request<http::string_body> req = BuildRequest(request, *url, *proxy);
    const std::string key =
        url->scheme + "://" + url->authority +
        (*proxy ? " via " + (*proxy)->authority : std::string());

    for (int attempt = 0;; ++attempt) {
      const bool reused = conn_.has_value() && conn_->key == key;
      if (!reused) {
        Close();
        if (core::Status s = Connect(*url, *proxy, key, deadline); !s) {
          Close();
          return core::Fail(core::Unavailable(what + ": " + s.error().message));
        }
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxBody);
      parser.header_limit(64 * 1024);
      if (req.method() == http::verb::head) parser.skip(true);
      const beast::error_code ec =
          conn_->tls ? Exchange(*conn_->tls, req, parser, deadline)
                     : Exchange(*conn_->plain, req, parser, deadline);
      if (ec) {
        const bool retry =
            reused && attempt == 0 && !parser.got_some() && IsStale(ec);
        Close();
        if (retry) continue;
        return core::Fail(core::Unavailable(what + ": " + Describe(ec)));
      }
      http::response<http::string_body>& msg = parser.get();
      HttpResponse resp;
      resp.status = static_cast<int>(msg.result_int());
      for (const auto& field : msg)
        resp.headers[Lower(std::string(field.name_string()))] =
            std::string(field.value());
      resp.body = std::move(msg.body());
      if (!msg.keep_alive()) Close();
      return resp;
    }
  }

 private:
  // The open connection: one at a time, reused while the next request goes
  // to the same origin through the same proxy.
  struct Connection {
    std::string key;  // "scheme://authority[ via proxy-authority]"
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    std::unique_ptr<beast::tcp_stream> plain;
    beast::tcp_stream& tcp() {
      return tls ? beast::get_lowest_layer(*tls) : *plain;
    }
  };

  // Runs one asynchronous operation to completion on this thread; its
  // deadline is the stream's (beast::tcp_stream::expires_at).
  template <class Start>
  beast::error_code Await(Start&& start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  core::Status Connect(const Url& url, const std::optional<Url>& proxy,
                       const std::string& key, Clock::time_point deadline) {
    const Url& hop = proxy ? *proxy : url;
    const bool https = url.scheme == "https";
    if (https && !tls_error_.empty())
      return core::Fail(core::Unavailable(tls_error_));
    const Clock::time_point connect_deadline = std::min(
        deadline,
        Clock::now() + std::chrono::seconds(options_.connect_timeout_s));
    SMS_ASSIGN_OR_RETURN(
        const std::vector<asio::ip::address> addresses,
        Resolve(options_.resolver, hop.host,
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    connect_deadline - Clock::now())));
    std::vector<tcp::endpoint> endpoints;
    for (const auto& a : addresses) endpoints.emplace_back(a, hop.port);

    Connection c;
    c.key = key;
    if (https) {
      c.tls =
          std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, tls_);
    } else {
      c.plain = std::make_unique<beast::tcp_stream>(ioc_);
    }
    beast::tcp_stream& stream = c.tcp();
    stream.expires_at(connect_deadline);
    beast::error_code ec =
        Await([&](auto handler) { stream.async_connect(endpoints, handler); });
    if (ec) {
      return core::Fail(core::Unavailable("connecting to " +
                                          (proxy ? "proxy " : std::string()) +
                                          hop.authority + ": " + Describe(ec)));
    }
    stream.socket().set_option(tcp::no_delay(true), ec);
    if (https) {
      if (proxy) SMS_RETURN_IF_ERROR(Tunnel(stream, url, *proxy, deadline));
      SMS_RETURN_IF_ERROR(Handshake(*c.tls, url, deadline));
    }
    conn_ = std::move(c);
    return core::Ok();
  }

  // Asks an HTTP proxy for a tunnel to `url`'s host and port.
  core::Status Tunnel(beast::tcp_stream& stream, const Url& url,
                      const Url& proxy, Clock::time_point deadline) {
    http::request<http::empty_body> req{http::verb::connect, HostPort(url), 11};
    req.set(http::field::host, HostPort(url));
    req.set(http::field::user_agent, "sms-agent");
    if (!proxy.userinfo.empty()) {
      req.set(http::field::proxy_authorization,
              "Basic " + Base64(PercentDecode(proxy.userinfo)));
    }
    stream.expires_at(deadline);
    beast::error_code ec =
        Await([&](auto handler) { http::async_write(stream, req, handler); });
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // a CONNECT answer has no body
    if (!ec) {
      ec = Await([&](auto handler) {
        http::async_read(stream, buffer_, parser, handler);
      });
    }
    const std::string what =
        "proxy " + proxy.authority + ", CONNECT " + HostPort(url);
    if (ec) return core::Fail(core::Unavailable(what + ": " + Describe(ec)));
    const auto& answer = parser.get();
    if (answer.result_int() / 100 != 2) {
      return core::Fail(core::Unavailable(what + ": HTTP " +
                                          std::to_string(answer.result_int()) +
                                          " " + std::string(answer.reason())));
    }
    buffer_.clear();
    return core::Ok();
  }

  core::Status Handshake(beast::ssl_stream<beast::tcp_stream>& tls,
                         const Url& url, Clock::time_point deadline) {
    SSL* ssl = tls.native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (IsIpLiteral(url.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, url.host.c_str());
      X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
    }
    beast::get_lowest_layer(tls).expires_at(deadline);
    const beast::error_code ec = Await([&](auto handler) {
      tls.async_handshake(ssl::stream_base::client, handler);
    });
    if (!ec) return core::Ok();
    const long verify = SSL_get_verify_result(ssl);
    const std::string why = verify != X509_V_OK
                                ? std::string("certificate verify failed: ") +
                                      X509_verify_cert_error_string(verify)
                                : Describe(ec);
    ERR_clear_error();
    return core::Fail(
        core::Unavailable("TLS handshake with " + url.authority + ": " + why));
  }

  template <class Stream>
  beast::error_code Exchange(Stream& stream,
                             http::request<http::string_body>& req,
                             http::response_parser<http::string_body>& parser,
                             Clock::time_point deadline) {
    beast::get_lowest_layer(stream).expires_at(deadline);
    beast::error_code ec =
        Await([&](auto handler) { http::async_write(stream, req, handler); });
    if (ec) return ec;
    return Await([&](auto handler) {
      http::async_read(stream, buffer_, parser, handler);
    });
  }

  void Close() {
    if (conn_) {
      beast::error_code ignored;
      conn_->tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
      conn_->tcp().close();
    }
    conn_.reset();
    buffer_.clear();
  }

  const HttpClientOptions options_;
  asio::io_context ioc_{1};
  ssl::context tls_{ssl::context::tls_client};
  std::string tls_error_;  // set: every https request fails with it
  std::optional<Connection> conn_;
  beast::flat_buffer buffer_;
};

}  // namespace

std::unique_ptr<HttpClient> NewHttpClient(HttpClientOptions options) {
  return std::make_unique<BeastHttpClient>(std::move(options));
}

}  // namespace sms::agent
