#include "server/crypto.h"

#include <gtest/gtest.h>

#include <set>

namespace sms::server {
namespace {

TEST(CryptoTest, Sha256OfEmptyString) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CryptoTest, HmacMatchesRfc4231Case2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, Base64RoundTripsBothAlphabets) {
  std::string bytes = "\xff\xfe\x00\x01hello";
  bytes.push_back('\0');
  EXPECT_EQ(*Base64Decode(Base64Encode(bytes)), bytes);
  EXPECT_EQ(*Base64Decode(Base64UrlEncode(bytes)), bytes);
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_EQ(Base64UrlEncode("ab"), "YWI");
  EXPECT_FALSE(Base64Decode("not base64!"));
}

TEST(CryptoTest, UuidsAreV4AndRecognised) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string u = NewUuid();
    EXPECT_TRUE(IsUuid(u)) << u;
    EXPECT_EQ(u[14], '4');
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_FALSE(IsUuid("7861C7AB-06c0-4b23-a350-00e5ed361fbb"));
  EXPECT_FALSE(IsUuid("7861c7ab-06c0-4b23-a350-00e5ed361fbb0"));
  EXPECT_FALSE(IsUuid("7861c7ab_06c0-4b23-a350-00e5ed361fbb"));
  EXPECT_TRUE(IsUuid("7861c7ab-06c0-4b23-a350-00e5ed361fbb"));
}

TEST(CryptoTest, PasswordHashIsSaltedAndVerifies) {
  std::string a = HashPassword("correct horse", 1000);
  std::string b = HashPassword("correct horse", 1000);
  EXPECT_NE(a, b);  // salted
  EXPECT_EQ(a.rfind("pbkdf2-sha256$1000$", 0), 0u);
  EXPECT_TRUE(VerifyPassword("correct horse", a));
  EXPECT_TRUE(VerifyPassword("correct horse", b));
  EXPECT_FALSE(VerifyPassword("correct horsf", a));
  EXPECT_FALSE(VerifyPassword("correct horse", "plain"));
}

TEST(CryptoTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace sms::server
