#include "core/strings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sms::core {
namespace {

using ::testing::ElementsAre;

TEST(StringsTest, SplitKeepsEveryPart) {
  EXPECT_THAT(Split("a,,b", ','), ElementsAre("a", "", "b"));
  EXPECT_THAT(Split("", ','), ElementsAre(""));
  EXPECT_THAT(Split(",", ','), ElementsAre("", ""));
  EXPECT_THAT(Split("pbkdf2$1$s$h", '$'), ElementsAre("pbkdf2", "1", "s", "h"));
}

TEST(StringsTest, SplitListTrimsAndDropsEmptyItems) {
  EXPECT_THAT(SplitList(" /a, ,/b \t,"), ElementsAre("/a", "/b"));
  EXPECT_THAT(SplitList("/with space/x"), ElementsAre("/with space/x"));
  EXPECT_TRUE(SplitList("").empty());
  EXPECT_TRUE(SplitList(" , ,").empty());
}

TEST(StringsTest, AsciiLowerLowersOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLower("Content-Type: APPLICATION/Json; X=1"),
            "content-type: application/json; x=1");
  EXPECT_EQ(AsciiLower("\xC3\x89t\xC3\xA9"), "\xC3\x89t\xC3\xA9");
  EXPECT_EQ(AsciiLower(""), "");
}

TEST(StringsTest, AsciiUpperUpperCasesOnlyAsciiLetters) {
  EXPECT_EQ(AsciiUpper("jan-Mon 7"), "JAN-MON 7");
  EXPECT_EQ(AsciiUpper("\xC3\xA9t\xC3\xA9"), "\xC3\xA9T\xC3\xA9");
  EXPECT_EQ(AsciiUpper(""), "");
}

TEST(StringsTest, TrimSpaceDropsOuterWhiteSpaceOnly) {
  EXPECT_EQ(TrimSpace(" \t@every 6h\r\n"), "@every 6h");
  EXPECT_EQ(TrimSpace("a  b"), "a  b");
  EXPECT_EQ(TrimSpace(" \t\n"), "");
  EXPECT_EQ(TrimSpace(""), "");
}

}  // namespace
}  // namespace sms::core
