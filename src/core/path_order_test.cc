#include "core/path_order.h"

#include <gtest/gtest.h>

#include "core/dir_list.h"

namespace sms::core {
namespace {

TEST(PathOrderTest, SlashRanksBelowEveryByte) {
  EXPECT_LT(ComparePaths("a/x", "a-b"), 0);
  EXPECT_LT(ComparePaths("a", "a/x"), 0);
  EXPECT_LT(ComparePaths("a/zzz", "a0"), 0);
  EXPECT_GT(ComparePaths("b", "a/x"), 0);
  EXPECT_EQ(ComparePaths("same/path", "same/path"), 0);
  EXPECT_LT(ComparePaths("A", "a"), 0);     // bytes, no folding
  EXPECT_LT(ComparePaths("a", "\xff"), 0);  // unsigned bytes
  EXPECT_LT(ComparePaths("long/common/prefix/a", "long/common/prefix/b"), 0);
}

TEST(PathOrderTest, IsUnder) {
  EXPECT_TRUE(IsUnder("a/b", "a"));
  EXPECT_FALSE(IsUnder("ab", "a"));
  EXPECT_FALSE(IsUnder("a", "a"));
}

TEST(PathOrderTest, IsWalkPathRefusesWhatNoWalkProduces) {
  EXPECT_TRUE(IsWalkPath("a"));
  EXPECT_TRUE(IsWalkPath("a/b.c/..d/..."));  // dots inside names are names
  for (std::string_view bad : {"", "/a", "a/", "a//b", ".", "..", "../a",
                               "a/..", "a/../b", "./a", "a/./b"}) {
    EXPECT_FALSE(IsWalkPath(bad)) << bad;
  }
  EXPECT_FALSE(IsWalkPath(std::string_view("a\0b", 3)));
}

TEST(DirListTest, NormalisesSortsAndDropsNestedDirectories) {
  auto dirs =
      NormalizeDirs({"/var/www/", "/etc", "/var//www/html", "/var/www"});
  ASSERT_TRUE(dirs);
  EXPECT_EQ(*dirs, (std::vector<std::string>{"/etc", "/var/www"}));
  EXPECT_EQ(*NormalizeDirs({}), std::vector<std::string>{"/"});
  EXPECT_EQ(*NormalizeDirs({"/etc", "/"}), std::vector<std::string>{"/"});
  EXPECT_EQ(*NormalizeDirs({"/./a/."}), std::vector<std::string>{"/a"});
}

TEST(DirListTest, RejectsRelativeAndDotDot) {
  auto rel = NormalizeDirs({"etc"});
  ASSERT_FALSE(rel);
  EXPECT_NE(rel.error().message.find("'etc' is not an absolute path"),
            std::string::npos);
  EXPECT_FALSE(NormalizeDirs({"/a/../b"}));
  EXPECT_FALSE(NormalizeDirs({std::string(5000, 'a').insert(0, "/")}));
}

}  // namespace
}  // namespace sms::core
