// TrustedProxies: which X-Forwarded-For hop is the client, and whose header
// is believed at all.
#include "server/client_address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sms::server {
namespace {

TrustedProxies Trusting(const std::vector<std::string>& entries) {
  auto p = TrustedProxies::Parse(entries);
  EXPECT_TRUE(p) << p.error().message;
  return p ? *p : TrustedProxies();
}

TEST(TrustedProxiesTest, WithNoneConfiguredTheHeaderIsIgnored) {
  TrustedProxies none;
  EXPECT_EQ(none.ClientAddress("127.0.0.1", {"10.1.1.1"}), "127.0.0.1");
}

TEST(TrustedProxiesTest, AnUntrustedPeersHeaderIsIgnored) {
  TrustedProxies p = Trusting({"127.0.0.1"});
  EXPECT_EQ(p.ClientAddress("10.9.9.9", {"10.1.1.1"}), "10.9.9.9");
}

TEST(TrustedProxiesTest, TrustedHopsAreSkippedRightToLeft) {
  TrustedProxies p = Trusting({"127.0.0.1", "10.0.0.0/8", "fd00::/8"});
  EXPECT_EQ(p.ClientAddress("127.0.0.1", {"203.0.113.7"}), "203.0.113.7");
  // A client's own forged entry stays left of the one the proxy appended.
  EXPECT_EQ(p.ClientAddress("127.0.0.1", {"1.2.3.4, 203.0.113.7, 10.0.0.2"}),
            "203.0.113.7");
  // Repeated headers read as one list.
  EXPECT_EQ(p.ClientAddress("127.0.0.1", {"1.2.3.4", "203.0.113.7"}),
            "203.0.113.7");
  // Every hop trusted: the leftmost.
  EXPECT_EQ(p.ClientAddress("127.0.0.1", {"10.0.0.5, 10.0.0.6"}), "10.0.0.5");
  // Garbage ends the walk at the last address known good.
  EXPECT_EQ(p.ClientAddress("127.0.0.1", {"203.0.113.7, unknown"}),
            "127.0.0.1");
  EXPECT_EQ(p.ClientAddress("fd00::1", {"2001:db8::1"}), "2001:db8::1");
  EXPECT_EQ(p.ClientAddress("127.0.0.1", {}), "127.0.0.1");
}

TEST(TrustedProxiesTest, AddressesHaveOneSpelling) {
  TrustedProxies p = Trusting({"127.0.0.1"});
  EXPECT_EQ(p.ClientAddress("::ffff:127.0.0.1", {"::ffff:203.0.113.7"}),
            "203.0.113.7");
  EXPECT_EQ(p.ClientAddress("2001:DB8:0:0::1", {}), "2001:db8::1");
  EXPECT_TRUE(p.Trusts("::ffff:127.0.0.1"));
  EXPECT_FALSE(p.Trusts("127.0.0.2"));
  EXPECT_EQ(CanonicalAddress("::ffff:10.0.0.1"), "10.0.0.1");
  EXPECT_FALSE(CanonicalAddress("example.com"));
}

TEST(TrustedProxiesTest, NetworksMatchByPrefix) {
  TrustedProxies p = Trusting({"192.168.4.0/22", "2001:db8::/33"});
  EXPECT_TRUE(p.Trusts("192.168.7.255"));
  EXPECT_FALSE(p.Trusts("192.168.8.0"));
  EXPECT_TRUE(p.Trusts("2001:db8:7fff::1"));
  EXPECT_FALSE(p.Trusts("2001:db8:8000::1"));
  EXPECT_FALSE(p.Trusts("garbage"));
}

TEST(TrustedProxiesTest, BadEntriesAreNamed) {
  for (const char* bad : {"proxy.example", "10.0.0.0/33", "::1/129",
                          "10.0.0.0/", "10.0.0.0/x", ""}) {
    auto p = TrustedProxies::Parse({bad});
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().message.find("trusted_proxies"), std::string::npos);
    EXPECT_NE(p.error().message.find(std::string("\"") + bad + "\""),
              std::string::npos)
        << p.error().message;
  }
}

}  // namespace
}  // namespace sms::server
