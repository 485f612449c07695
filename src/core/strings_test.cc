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

}  // namespace
}  // namespace sms::core
