// The real HTTP client against servers and proxies on loopback: plain HTTP,
// kept-alive connections the server dropped, TLS verified against a CA file,
// forward proxies and CONNECT tunnels, timeouts.
#include "agent/http_client.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "testing/temp_dir.h"

namespace sms::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Serves one connection at a time on 127.0.0.1, answering each request with
// handler(request). With `tls`, connections are TLS. With `drop_idle`, the
// server closes each connection after its first answer without saying so
// (as a server's idle timeout does between two requests).
class TestServer {
 public:
  using Handler = std::function<Response(const Request&)>;
  explicit TestServer(Handler handler, ssl::context* tls = nullptr,
                      bool drop_idle = false)
      : handler_(std::move(handler)), tls_(tls), drop_idle_(drop_idle) {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { Run(); });
  }
  ~TestServer() {
    stop_ = true;
    // Ends a connection a client still keeps open.
    if (const int fd = serving_; fd >= 0) shutdown(fd, SHUT_RDWR);
    beast::error_code ec;
    tcp::socket wake(ioc_);
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_; }

 private:
  void Run() {
    while (!stop_) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) continue;
      ++connections_;
      serving_ = socket.native_handle();
      if (tls_ != nullptr) {
        ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
        stream.handshake(ssl::stream_base::server, ec);
        if (!ec) Serve(stream);
      } else {
        Serve(socket);
      }
      serving_ = -1;
    }
  }
  template <class Stream>
  void Serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      Request req;
      beast::error_code ec;
      http::read(stream, buffer, req, ec);
      if (ec) return;
      Response resp = handler_(req);
      resp.version(11);
      resp.prepare_payload();
      http::write(stream, resp, ec);
      if (ec || drop_idle_ || !resp.keep_alive()) return;
    }
  }

  Handler handler_;
  ssl::context* tls_;
  const bool drop_idle_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> serving_{-1};
  std::thread thread_;
};

Response Reply(http::status status, std::string body) {
  Response r{status, 11};
  r.set(http::field::content_type, "text/plain");
  r.body() = std::move(body);
  return r;
}

// Echoes what it got: "METHOD target|host|content-type|body".
Response Echo(const Request& req) {
  Response r =
      Reply(http::status::ok,
            std::string(req.method_string()) + " " + std::string(req.target()) +
                "|" + std::string(req[http::field::host]) + "|" +
                std::string(req["Content-Type"]) + "|" + req.body());
  r.set("X-Mixed-Case", "Value");
  return r;
}

// Environment proxies must not leak into tests that expect direct
// connections: every client gets its proxy settings explicitly.
HttpClientOptions Direct(long timeout_s = 10) {
  return HttpClientOptions{.timeout_s = timeout_s, .proxy = ProxySettings{}};
}

TEST(HttpClientTest, SendsTheRequestAndReturnsStatusHeadersAndBody) {
  TestServer server(Echo);
  auto client = NewHttpClient(Direct());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  auto r = client->Send({.method = "POST",
                         .url = base + "/v3/x?y=1",
                         .headers = {{"Content-Type", "application/json"}},
                         .body = "{\"a\":1}"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body,
            "POST /v3/x?y=1|127.0.0.1:" + std::to_string(server.port()) +
                "|application/json|{\"a\":1}");
  EXPECT_EQ(r->headers["x-mixed-case"], "Value");
  // Any status is a response; the connection is kept for the next request.
  TestServer missing(
      [](const Request&) { return Reply(http::status::not_found, "nope"); });
  auto g = client->Send({.method = "GET", .url = base + "/again"});
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body,
            "GET /again|127.0.0.1:" + std::to_string(server.port()) + "||");
  EXPECT_EQ(server.connections(), 1);
  auto nf = client->Send(
      {.method = "GET",
       .url = "http://127.0.0.1:" + std::to_string(missing.port()) + "/"});
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(nf->body, "nope");
}

TEST(HttpClientTest, SendsAgainOnceWhenAKeptConnectionWasDropped) {
  TestServer server(Echo, nullptr, /*drop_idle=*/true);
  auto client = NewHttpClient(Direct());
  const std::string url =
      "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  for (int i = 0; i < 3; ++i) {
    auto r = client->Send({.method = "POST", .url = url, .body = "x"});
    ASSERT_TRUE(r) << i << ": " << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(server.connections(), 3);
}

TEST(HttpClientTest, NoAnswerIsUnavailableNamingTheRequest) {
  // A port nothing listens on.
  uint16_t port;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto client = NewHttpClient(Direct());
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  auto r = client->Send({.method = "GET", .url = url});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("GET " + url), std::string::npos);
  EXPECT_NE(r.error().message.find("Connection refused"), std::string::npos)
      << r.error().message;
}

TEST(HttpClientTest, TimesOutASilentServer) {
  std::atomic<bool> release{false};
  TestServer server([&](const Request&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return Reply(http::status::ok, "late");
  });
  auto client = NewHttpClient(Direct(/*timeout_s=*/1));
  auto r = client->Send(
      {.method = "GET",
       .url = "http://127.0.0.1:" + std::to_string(server.port()) + "/"});
  release = true;
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos)
      << r.error().message;
}

// A key and a self-signed certificate for `san` in `dir`.
void MakeCert(const testing::TempDir& dir, const std::string& name,
              const std::string& san) {
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 1 -subj /CN=sms-test -addext subjectAltName=" +
      san + " -keyout " + dir.Join(name + ".key") + " -out " +
      dir.Join(name + ".pem") + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

class HttpClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeCert(dir_, "server", "DNS:localhost,IP:127.0.0.1");
    MakeCert(dir_, "other", "DNS:other.example");
    ctx_.use_certificate_chain_file(dir_.Join("server.pem"));
    ctx_.use_private_key_file(dir_.Join("server.key"), ssl::context::pem);
  }
  HttpClientOptions WithCa(const std::string& name) {
    HttpClientOptions o = Direct();
    o.ca_file = dir_.Join(name + ".pem");
    return o;
  }
  testing::TempDir dir_;
  ssl::context ctx_{ssl::context::tls_server};
};

TEST_F(HttpClientTlsTest, VerifiesTheServerAgainstTheCaFile) {
  TestServer server(Echo, &ctx_);
  const std::string port = std::to_string(server.port());
  auto client = NewHttpClient(WithCa("server"));
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto r = client->Send(
        {.method = "GET", .url = "https://" + host + ":" + port + "/tls"});
    ASSERT_TRUE(r) << host << ": " << r.error().message;
    EXPECT_EQ(r->body, "GET /tls|" + host + ":" + port + "||");
  }
}

TEST_F(HttpClientTlsTest, RefusesAnUntrustedOrMisnamedCertificate) {
  TestServer server(Echo, &ctx_);
  const std::string url =
      "https://127.0.0.1:" + std::to_string(server.port()) + "/";
  auto untrusted =
      NewHttpClient(WithCa("other"))->Send({.method = "GET", .url = url});
  ASSERT_FALSE(untrusted);
  EXPECT_NE(untrusted.error().message.find("certificate verify failed"),
            std::string::npos)
      << untrusted.error().message;

  ssl::context other{ssl::context::tls_server};
  other.use_certificate_chain_file(dir_.Join("other.pem"));
  other.use_private_key_file(dir_.Join("other.key"), ssl::context::pem);
  TestServer misnamed(Echo, &other);
  auto r = NewHttpClient(WithCa("other"))
               ->Send({.method = "GET",
                       .url = "https://127.0.0.1:" +
                              std::to_string(misnamed.port()) + "/"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("mismatch"), std::string::npos)
      << r.error().message;

  auto bad_ca = NewHttpClient(HttpClientOptions{
      .ca_file = dir_.Join("none.pem"), .proxy = ProxySettings{}});
  auto b = bad_ca->Send({.method = "GET", .url = url});
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("ca-file " + dir_.Join("none.pem")),
            std::string::npos)
      << b.error().message;
}

TEST(HttpClientProxyTest, PlainHttpGoesToTheProxyWithTheAbsoluteUrl) {
  std::string seen_auth;
  TestServer proxy([&](const Request& req) {
    seen_auth = std::string(req[http::field::proxy_authorization]);
    return Echo(req);
  });
  auto client = NewHttpClient(HttpClientOptions{
      .proxy = {.http_proxy = "http://bob:s%40cret@127.0.0.1:" +
                              std::to_string(proxy.port())}});
  auto r = client->Send({.method = "GET", .url = "http://sms.invalid:81/p"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "GET http://sms.invalid:81/p|sms.invalid:81||");
  EXPECT_EQ(seen_auth, "Basic Ym9iOnNAY3JldA==");  // bob:s@cret

  // no_proxy: straight to the origin.
  TestServer origin(Echo);
  auto direct = NewHttpClient(HttpClientOptions{
      .proxy = {.http_proxy = "http://127.0.0.1:9", .no_proxy = "127.0.0.1"}});
  auto d = direct->Send(
      {.method = "GET",
       .url = "http://127.0.0.1:" + std::to_string(origin.port()) + "/d"});
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->body.substr(0, 7), "GET /d|");
}

// An HTTP proxy that only tunnels: answers CONNECT host:port with 200, then
// relays bytes both ways. Records the CONNECT targets.
class TunnelProxy {
 public:
  TunnelProxy() {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { Run(); });
  }
  ~TunnelProxy() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket wake(ioc_);
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }

 private:
  void Run() {
    while (!stop_) {
      tcp::socket client(ioc_);
      beast::error_code ec;
      acceptor_.accept(client, ec);
      if (ec || stop_) continue;
      beast::flat_buffer buffer;
      http::request<http::empty_body> req;
      http::read(client, buffer, req, ec);
      if (ec || req.method() != http::verb::connect) continue;
      const std::string target(req.target());
      {
        std::lock_guard lock(mu_);
        targets_.push_back(target);
      }
      const size_t colon = target.rfind(':');
      tcp::socket origin(ioc_);
      origin.connect(
          {asio::ip::make_address(target.substr(0, colon)),
           static_cast<uint16_t>(std::stoi(target.substr(colon + 1)))},
          ec);
      http::response<http::empty_body> ok{http::status::ok, 11};
      ok.keep_alive(true);
      http::response_serializer<http::empty_body> sr{ok};
      http::write_header(client, sr, ec);
      Relay(client.native_handle(), origin.native_handle());
    }
  }
  static void Relay(int a, int b) {
    char buf[16384];
    for (;;) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(p, 2, 5000) <= 0) return;
      for (int i = 0; i < 2; ++i) {
        if (p[i].revents == 0) continue;
        const ssize_t n = read(p[i].fd, buf, sizeof(buf));
        if (n <= 0) return;
        if (write(i == 0 ? b : a, buf, static_cast<size_t>(n)) != n) return;
      }
    }
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> targets_;  // guarded by mu_
  std::thread thread_;
};

TEST_F(HttpClientTlsTest, HttpsGoesThroughAConnectTunnel) {
  TestServer server(Echo, &ctx_);
  TunnelProxy proxy;
  HttpClientOptions o = WithCa("server");
  o.proxy.https_proxy = "127.0.0.1:" + std::to_string(proxy.port());
  auto client = NewHttpClient(o);
  const std::string port = std::to_string(server.port());
  auto r = client->Send({.method = "POST",
                         .url = "https://127.0.0.1:" + port + "/t",
                         .body = "b"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "POST /t|127.0.0.1:" + port + "||b");
  EXPECT_EQ(proxy.targets(), (std::vector<std::string>{"127.0.0.1:" + port}));
}

}  // namespace
}  // namespace sms::agent
