#include "agent/proxy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace sms::agent {
namespace {

TEST(ProxyTest, NoProxyMatchesAsCurlDoes) {
  struct Row {
    const char* no_proxy;
    const char* host;
    bool bypass;
  };
  const Row rows[] = {
      {"", "sms.example.com", false},
      {"*", "sms.example.com", true},
      {"example.com", "example.com", true},
      {"example.com", "sms.example.com", true},
      {".example.com", "sms.example.com", true},
      {"example.com", "badexample.com", false},
      {"EXAMPLE.com", "sms.example.com", true},
      {"other.org, example.com", "sms.example.com", true},
      {"other.org example.com", "sms.example.com", true},
      {"10.0.0.0/8", "10.1.2.3", true},
      {"10.0.0.0/8", "11.1.2.3", false},
      {"192.168.1.7", "192.168.1.7", true},
      {"192.168.1.7", "192.168.1.8", false},
      {"::1", "::1", true},
      {"[::1]", "::1", true},
      {"fd00::/8", "fd12::5", true},
      {"fd00::/8", "fe80::1", false},
      {"10.0.0.0/8", "ten.example", false},
      {"10.0.0.0/33", "10.0.0.1", false},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(BypassesProxy(r.no_proxy, r.host), r.bypass)
        << "no_proxy='" << r.no_proxy << "' host=" << r.host;
  }
}

TEST(ProxyTest, PicksTheProxyOfTheScheme) {
  ProxySettings s{.http_proxy = "http://p1:3128",
                  .https_proxy = "p2:8080",
                  .no_proxy = "localhost,.internal"};
  auto http = ProxyFor(s, *ParseUrl("http://sms.example.com/"));
  ASSERT_TRUE(http && http->has_value());
  EXPECT_EQ((*http)->authority, "p1:3128");
  auto https = ProxyFor(s, *ParseUrl("https://sms.example.com/"));
  ASSERT_TRUE(https && https->has_value());
  EXPECT_EQ((*https)->authority, "p2:8080");  // no scheme: http://
  EXPECT_EQ((*https)->port, 8080);
  auto direct = ProxyFor(s, *ParseUrl("https://sms.internal/"));
  ASSERT_TRUE(direct);
  EXPECT_FALSE(direct->has_value());
  auto none = ProxyFor(ProxySettings{}, *ParseUrl("https://sms.example.com/"));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST(ProxyTest, RefusesProxySchemesItCannotSpeak) {
  for (const char* p : {"socks5://p:1080", "https://p:443"}) {
    auto r = ProxyFor(ProxySettings{.https_proxy = p},
                      *ParseUrl("https://sms.example.com/"));
    ASSERT_FALSE(r) << p;
    EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(p), std::string::npos);
  }
}

TEST(ProxyTest, ReadsCurlsVariables) {
  for (const char* v :
       {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
        "ALL_PROXY", "no_proxy", "NO_PROXY"}) {
    unsetenv(v);
  }
  // HTTP_PROXY (upper case) is ignored, as curl does: a CGI request's
  // "Proxy:" header sets it.
  setenv("HTTP_PROXY", "http://evil:1", 1);
  setenv("HTTPS_PROXY", "http://p2:2", 1);
  setenv("all_proxy", "http://all:3", 1);
  setenv("NO_PROXY", "internal", 1);
  ProxySettings s = ProxySettingsFromEnvironment();
  EXPECT_EQ(s.http_proxy, "http://all:3");
  EXPECT_EQ(s.https_proxy, "http://p2:2");
  EXPECT_EQ(s.no_proxy, "internal");
  for (const char* v : {"HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "NO_PROXY"})
    unsetenv(v);
}

}  // namespace
}  // namespace sms::agent
