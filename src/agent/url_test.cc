#include "agent/url.h"

#include <gtest/gtest.h>

namespace sms::agent {
namespace {

TEST(UrlTest, SplitsTheParts) {
  struct Row {
    const char* text;
    const char* scheme;
    const char* host;
    uint16_t port;
    const char* authority;
    const char* target;
  };
  const Row rows[] = {
      {"http://sms.example.com", "http", "sms.example.com", 80,
       "sms.example.com", "/"},
      {"HTTPS://SMS.example.com:8443/v3/tasks?limit=5#x", "https",
       "sms.example.com", 8443, "SMS.example.com:8443", "/v3/tasks?limit=5"},
      {"http://127.0.0.1:8080?x=1", "http", "127.0.0.1", 8080, "127.0.0.1:8080",
       "/?x=1"},
      {"https://[::1]:9/a", "https", "::1", 9, "[::1]:9", "/a"},
      {"https://[::1]/", "https", "::1", 443, "[::1]", "/"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.text);
    core::Result<Url> u = ParseUrl(r.text);
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->scheme, r.scheme);
    EXPECT_EQ(u->host, r.host);
    EXPECT_EQ(u->port, r.port);
    EXPECT_EQ(u->authority, r.authority);
    EXPECT_EQ(u->target, r.target);
    EXPECT_EQ(u->userinfo, "");
  }
}

TEST(UrlTest, KeepsUserinfoApart) {
  core::Result<Url> u = ParseUrl("http://bob:s%40cret@proxy:3128");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->userinfo, "bob:s%40cret");
  EXPECT_EQ(PercentDecode(u->userinfo), "bob:s@cret");
  EXPECT_EQ(u->host, "proxy");
  EXPECT_EQ(u->authority, "proxy:3128");
}

TEST(UrlTest, RefusesWhatIsNotAnHttpUrl) {
  for (const char* bad :
       {"sms.example.com", "ftp://x/", "http://", "http://:80/", "http://h:0",
        "http://h:65536", "http://h:8x", "https://[::1/", "https://[nope]/"}) {
    core::Result<Url> u = ParseUrl(bad);
    EXPECT_FALSE(u) << bad;
    if (!u) {
      EXPECT_EQ(u.error().code, core::ErrorCode::kInvalidArgument);
      EXPECT_NE(u.error().message.find(bad), std::string::npos)
          << u.error().message;
    }
  }
}

}  // namespace
}  // namespace sms::agent
