#include "auth/crypto.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

namespace sms::auth {
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

TEST(CryptoTest, UuidsAreV7AndRecognised) {
  std::set<std::string> seen;
  const std::string first = NewUuid();
  for (int i = 0; i < 100; ++i) {
    std::string u = NewUuid();
    EXPECT_TRUE(IsUuid(u)) << u;
    EXPECT_EQ(u[14], '7');
    EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 100u);
  // Time-ordered: the 48-bit millisecond prefix never goes back, and is now.
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::string later = NewUuid();
  EXPECT_LT(first.substr(0, 13), later.substr(0, 13));
  const int64_t ms =
      std::stoll(later.substr(0, 8) + later.substr(9, 4), nullptr, 16);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LE(ms, now);
  EXPECT_GT(ms, now - 60000);
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
}  // namespace sms::auth
