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

}  // namespace
}  // namespace sms::core
