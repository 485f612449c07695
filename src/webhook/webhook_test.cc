#include "webhook/webhook.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/crypto.h"

namespace sms::webhook {
namespace {

using ::testing::HasSubstr;

TEST(WebhookTest, SignsAsStripeDoesAndVerifies) {
  const std::string body = R"({"type":"run.finished"})";
  const std::string sig = Sign("whsec", 1764633600, body);
  EXPECT_EQ(sig, "t=1764633600,v1=" + auth::HexEncode(auth::HmacSha256(
                                          "whsec", "1764633600." + body)));
  EXPECT_TRUE(Verify("whsec", sig, body, 1764633600 + 10));
  EXPECT_FALSE(Verify("other", sig, body, 1764633600));
  EXPECT_FALSE(Verify("whsec", sig, body + " ", 1764633600));
  EXPECT_FALSE(Verify("whsec", sig, body, 1764633600 + 301));  // too old
  EXPECT_FALSE(Verify("whsec", "v1=00", body, 1764633600));
  // Several v1 values (a rotated secret): any may match.
  EXPECT_TRUE(Verify("whsec", sig + ",v1=00", body, 1764633600));
}

TEST(WebhookTest, RetriesBackOffForMoreThanADay) {
  EXPECT_EQ(RetryDelayMs(1, 1.0), 10000);
  EXPECT_EQ(RetryDelayMs(1, 0.0), 5000);
  EXPECT_EQ(RetryDelayMs(3, 1.0), 40000);
  EXPECT_EQ(RetryDelayMs(40, 1.0), 6LL * 3600 * 1000);  // capped
  // The slowest schedule (no jitter) and the fastest both reach a day.
  for (double unit : {0.0, 1.0}) {
    int64_t t = 0;
    int attempt = 0;
    while (t < kGiveUpMs) t += RetryDelayMs(++attempt, unit);
    EXPECT_GE(t, 24LL * 3600 * 1000);
    EXPECT_LT(attempt, 40);
  }
  EXPECT_TRUE(IsEvent("task.ready"));
  EXPECT_FALSE(IsEvent("task.deleted"));
}

TEST(WebhookTest, TargetsAreHttpOrHttpsWithAHost) {
  auto t = ParseTarget("https://Hooks.Example.com:8443/sms?x=1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->scheme, "https");
  EXPECT_EQ(t->host, "hooks.example.com");
  EXPECT_EQ(t->port, 8443);
  EXPECT_EQ(t->path, "/sms?x=1");
  auto v6 = ParseTarget("http://[::1]/h");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 80);
  EXPECT_EQ(ParseTarget("http://127.0.0.1")->path, "/");
  auto err = [](const char* u) { return ParseTarget(u).error().message; };
  EXPECT_THAT(err("ftp://x/"), HasSubstr("only http and https"));
  EXPECT_THAT(err("file:///etc/passwd"), HasSubstr("only http and https"));
  EXPECT_THAT(err("gopher://x"), HasSubstr("only http and https"));
  EXPECT_THAT(err("http://user:pw@x/"), HasSubstr("user info"));
  EXPECT_THAT(err("http:///x"), HasSubstr("no host"));
  EXPECT_THAT(err("http://x:0/"), HasSubstr("port"));
  EXPECT_THAT(err("http://x:99999/"), HasSubstr("port"));
  EXPECT_THAT(err("http://x/#f"), HasSubstr("fragment"));
  EXPECT_THAT(err("x.example"), HasSubstr("expected http"));
}

TEST(WebhookTest, AnAllowListRestrictsNamesAndNetworks) {
  auto open = AllowList::Parse({});
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->AllowsName("169.254.169.254"));  // default: anything

  auto a = AllowList::Parse({"hooks.example.com", "*.corp.example",
                             "10.0.0.0/8", "fd00::/8", "192.0.2.7"});
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_TRUE(a->AllowsName("hooks.example.com"));
  EXPECT_TRUE(a->AllowsName("HOOKS.example.com"));
  EXPECT_TRUE(a->AllowsName("ci.corp.example"));
  EXPECT_FALSE(a->AllowsName("corp.example"));
  EXPECT_FALSE(a->AllowsName("evilcorp.example"));
  EXPECT_FALSE(a->AllowsName("metadata.google.internal"));
  EXPECT_TRUE(a->AllowsName("10.1.2.3"));  // an address in the URL
  EXPECT_FALSE(a->AllowsName("169.254.169.254"));
  EXPECT_TRUE(a->AllowsAddress("10.255.0.1"));
  EXPECT_TRUE(a->AllowsAddress("::ffff:10.0.0.1"));  // v4-mapped
  EXPECT_TRUE(a->AllowsAddress("fd12::1"));
  EXPECT_TRUE(a->AllowsAddress("192.0.2.7"));
  EXPECT_FALSE(a->AllowsAddress("192.0.2.8"));
  EXPECT_FALSE(a->AllowsAddress("127.0.0.1"));
  EXPECT_FALSE(a->AllowsAddress("not-an-ip"));

  EXPECT_THAT(AllowList::Parse({"10.0.0.0/33"}).error().message,
              HasSubstr("prefix longer"));
  EXPECT_THAT(AllowList::Parse({"bad host!"}).error().message,
              HasSubstr("not a host name"));
  EXPECT_THAT(AllowList::Parse({"x.example/8"}).error().message,
              HasSubstr("neither a network"));
}

}  // namespace
}  // namespace sms::webhook
