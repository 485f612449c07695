#include "net/http_post.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <string>

namespace sms::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

tl::unexpected<core::Error> Unavailable(const std::string& what,
                                        const beast::error_code& ec) {
  return core::Fail(core::Unavailable(what + ": " + ec.message()));
}

class BeastPoster final : public HttpPoster {
 public:
  explicit BeastPoster(HttpPosterOptions o) : options_(std::move(o)) {}

  core::Result<PostResult> Post(
      const std::string& url,
      const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body) override {
    SMS_ASSIGN_OR_RETURN(webhook::Target t, webhook::ParseTarget(url));
    asio::io_context io;
    const auto deadline = std::chrono::seconds(options_.timeout_s);
    tcp::resolver resolver(io);
    beast::error_code ec;
    auto found = resolver.resolve(t.host, std::to_string(t.port), ec);
    if (ec)
      return core::Fail(
          core::Unavailable("resolving " + t.host + ": " + ec.message()));
    // The SSRF control: a name not allowed by name must resolve into an
    // allowed network; every address it resolves to is checked.
    std::vector<tcp::endpoint> allowed;
    const bool by_name = options_.allow.AllowsName(t.host);
    for (const auto& e : found) {
      if (by_name ||
          options_.allow.AllowsAddress(e.endpoint().address().to_string()))
        allowed.push_back(e.endpoint());
    }
    if (allowed.empty())
      return core::Fail(core::PermissionDenied(
          "webhook target " + t.host +
          " is outside the server's webhook_allow list"));
    http::request<http::string_body> req{http::verb::post, t.path, 11};
    req.set(http::field::host, t.host);
    req.set(http::field::user_agent, "sms-server-webhook");
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    beast::flat_buffer buffer;
    if (t.scheme == "https") {
      asio::ssl::context ctx(asio::ssl::context::tls_client);
      if (options_.ca_file.empty())
        ctx.set_default_verify_paths();
      else
        ctx.load_verify_file(options_.ca_file, ec);
      ctx.set_verify_mode(asio::ssl::verify_peer);
      beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
      SSL_set_tlsext_host_name(stream.native_handle(), t.host.c_str());
      stream.set_verify_callback(asio::ssl::host_name_verification(t.host));
      beast::get_lowest_layer(stream).expires_after(deadline);
      beast::get_lowest_layer(stream).connect(allowed, ec);
      if (ec) return Unavailable("connecting to " + t.host, ec);
      stream.handshake(asio::ssl::stream_base::client, ec);
      if (ec) return Unavailable("TLS with " + t.host, ec);
      http::write(stream, req, ec);
      if (!ec) http::read(stream, buffer, parser, ec);
      if (ec) return Unavailable("posting to " + t.host, ec);
    } else {
      beast::tcp_stream stream(io);
      stream.expires_after(deadline);
      stream.connect(allowed, ec);
      if (ec) return Unavailable("connecting to " + t.host, ec);
      http::write(stream, req, ec);
      if (!ec) http::read(stream, buffer, parser, ec);
      if (ec) return Unavailable("posting to " + t.host, ec);
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    }
    PostResult out;
    out.status = static_cast<int>(parser.get().result_int());
    out.body = parser.get().body().substr(0, 1024);
    return out;
  }

 private:
  const HttpPosterOptions options_;
};

}  // namespace

std::unique_ptr<HttpPoster> NewHttpPoster(HttpPosterOptions options) {
  return std::make_unique<BeastPoster>(std::move(options));
}

}  // namespace sms::net
