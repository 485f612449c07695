#include "cli/version.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace sms::cli {
namespace {

TEST(VersionTest, LineNamesProgramVersionAndCommit) {
  const std::string line = VersionLine("sms-agent");
  EXPECT_TRUE(std::regex_match(
      line,
      std::regex(
          R"(sms-agent \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\))")))
      << line;
  EXPECT_EQ(ParseVersionLine(line), Version());
}

TEST(VersionTest, ParsesTheLineAndTheBareVersionOfOlderAgents) {
  EXPECT_EQ(ParseVersionLine("sms-agent 0.1.0 (commit 942dac5e1f3a)\n"),
            "0.1.0");
  EXPECT_EQ(ParseVersionLine("0.1.0"), "0.1.0");
  EXPECT_EQ(ParseVersionLine("0.0.9\n"), "0.0.9");
  EXPECT_EQ(ParseVersionLine("sms-agent 1.2.3 (commit unknown)"), "1.2.3");
}

TEST(VersionTest, NoVersionInOtherText) {
  EXPECT_EQ(ParseVersionLine(""), "");
  EXPECT_EQ(ParseVersionLine("sh: sms-agent: not found"), "");
  EXPECT_EQ(ParseVersionLine("sms-agent version x.y"), "");
  EXPECT_EQ(ParseVersionLine("a b 1.2.3"), "");  // only the first two words
  EXPECT_EQ(ParseVersionLine("1.2."), "");
}

}  // namespace
}  // namespace sms::cli
