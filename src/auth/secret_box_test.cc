#include "auth/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "testing/temp_dir.h"

namespace sms::auth {
namespace {

TEST(SecretBoxTest, SealsAndOpens) {
  SecretBox box(std::string(32, 'k'));
  const std::string sealed = box.Seal("AKEXAMPLE", "the-secret-key");
  EXPECT_TRUE(SecretBox::IsSealed(sealed));
  EXPECT_EQ(sealed.find("the-secret-key"), std::string::npos);
  EXPECT_EQ(*box.Open("AKEXAMPLE", sealed), "the-secret-key");
  // A fresh nonce each time.
  EXPECT_NE(box.Seal("AKEXAMPLE", "the-secret-key"), sealed);
  EXPECT_EQ(*box.Open("AK", box.Seal("AK", "")), "");
}

TEST(SecretBoxTest, RefusesAnotherKeyContextOrAlteredText) {
  SecretBox box(std::string(32, 'k'));
  const std::string sealed = box.Seal("AKEXAMPLE", "the-secret-key");
  EXPECT_FALSE(SecretBox(std::string(32, 'x')).Open("AKEXAMPLE", sealed));
  EXPECT_FALSE(box.Open("AKOTHER", sealed));  // copied onto another key's row
  std::string altered = sealed;
  altered[altered.size() - 5] = altered[altered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(box.Open("AKEXAMPLE", altered));
  EXPECT_FALSE(box.Open("AKEXAMPLE", "sealed:v1:short"));
  EXPECT_FALSE(box.Open("AKEXAMPLE", "clear-text-secret"));
  EXPECT_FALSE(SecretBox::IsSealed("clear-text-secret"));
}

TEST(SecretBoxTest, KeyFileIsCreatedOnceAndPrivate) {
  sms::testing::TempDir dir;
  const std::string path = dir.Join("sms.db.secret");
  EXPECT_FALSE(SecretBox::FromKeyFile(path, false));  // missing, not created
  auto first = SecretBox::FromKeyFile(path, true);
  ASSERT_TRUE(first) << first.error().ToString();
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = SecretBox::FromKeyFile(path, true);  // read, not replaced
  ASSERT_TRUE(again);
  EXPECT_EQ(*again->Open("AK", first->Seal("AK", "sk")), "sk");
}

TEST(SecretBoxTest, AMalformedKeyFileIsNamed) {
  sms::testing::TempDir dir;
  const std::string path = dir.Join("bad.secret");
  std::ofstream(path) << "not hex\n";
  auto box = SecretBox::FromKeyFile(path, true);
  ASSERT_FALSE(box);
  EXPECT_NE(box.error().message.find(path), std::string::npos);
  EXPECT_NE(box.error().message.find("64 hex characters"), std::string::npos);
}

}  // namespace
}  // namespace sms::auth
