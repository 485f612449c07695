#include "agent/path_list.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace sms::agent {
namespace {

using ::sms::testing::TempDir;
using ::sms::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PathListTest, ReadsTheTextListSkippingSameAndUndoingEscapes) {
  TempDir t;
  WriteFile(t.Join("list"),
            "= etc/same\n"
            "* etc/b\\nc\n"
            "- etc/dir/\n"
            "- etc/dir/x\n"
            "+ var/log/extra\n"
            "! etc/bad\\xff\n"
            "# etc/rotten\n"
            "\n"
            "* home/outside\n"
            "etc/plain path\n");
  PathSetBuilder builder({"/etc", "/var/log"});
  ASSERT_TRUE(ReadPathList(t.Join("list"), builder));
  EXPECT_EQ(builder.ignored(), 1u);
  PathSets sets = builder.Build();
  EXPECT_THAT(sets["/etc"], ElementsAre("b\nc", "bad\xff", "dir", "dir/x",
                                        "plain path", "rotten"));
  EXPECT_THAT(sets["/var/log"], ElementsAre("extra"));
}

// A list is read from a file or a server: a path that climbs out of the
// root ("../x", "etc/../../x") or that no walk writes ("a//b") is ignored
// and counted, never checked.
TEST(PathListTest, PathsOutsideTheRootAreIgnored) {
  TempDir t;
  WriteFile(t.Join("list"),
            "* ../etc/shadow\n"
            "* etc/../../x\n"
            "- etc//b\n"
            "* etc/./c\n"
            "* etc/ok\n");
  WriteFile(t.Join("list.jsonl"),
            "{\"dir_check\":\"/etc\",\"path\":\"../root/.ssh/id\"}\n"
            "{\"dir_check\":\"/var\",\"path\":\"..\"}\n"
            "{\"dir_check\":\"/etc\",\"path\":\"fine\"}\n");
  PathSetBuilder builder({"/"});
  ASSERT_TRUE(ReadPathList(t.Join("list"), builder));
  ASSERT_TRUE(ReadPathList(t.Join("list.jsonl"), builder));
  EXPECT_EQ(builder.ignored(), 6u);
  EXPECT_THAT(builder.Build()["/"], ElementsAre("etc/fine", "etc/ok"));
}

TEST(PathListTest, ReadsJsonLinesWithExactBytes) {
  TempDir t;
  WriteFile(
      t.Join("list.jsonl"),
      "{\"dir_check\":\"/\",\"path\":\"a/b\",\"status\":\"different\"}\n"
      "{\"dir_check\":\"/\",\"path\":\"x\\\\xff\",\"path_b64\":\"eP8=\","
      "\"status\":\"target_miss\"}\n"
      "{\"dir_check\":\"/etc\",\"path\":\"passwd\",\"status\":\"error\"}\n");
  PathSetBuilder builder({"/"});
  ASSERT_TRUE(ReadPathList(t.Join("list.jsonl"), builder));
  EXPECT_THAT(builder.Build()["/"], ElementsAre("a/b", "etc/passwd", "x\xff"));
}

TEST(PathListTest, ReturnsTheRunsItsJsonLinesName) {
  TempDir t;
  WriteFile(t.Join("one.jsonl"),
            "{\"run_id\":\"r1\",\"dir_check\":\"/\",\"path\":\"a\"}\n"
            "{\"run_id\":\"r1\",\"dir_check\":\"/\",\"path\":\"b\"}\n");
  PathSetBuilder one({"/"});
  auto runs = ReadPathList(t.Join("one.jsonl"), one);
  ASSERT_TRUE(runs);
  EXPECT_THAT(*runs, ElementsAre("r1"));
  WriteFile(t.Join("two.jsonl"),
            "{\"run_id\":\"r2\",\"dir_check\":\"/\",\"path\":\"a\"}\n"
            "{\"dir_check\":\"/\",\"path\":\"b\"}\n"
            "{\"run_id\":\"r1\",\"dir_check\":\"/\",\"path\":\"c\"}\n"
            "{\"run_id\":\"r2\",\"dir_check\":\"/\",\"path\":\"d\"}\n");
  PathSetBuilder two({"/"});
  runs = ReadPathList(t.Join("two.jsonl"), two);
  ASSERT_TRUE(runs);
  EXPECT_THAT(*runs, ElementsAre("r2", "r1"));
  EXPECT_THAT(two.Build()["/"], ElementsAre("a", "b", "c", "d"));
  WriteFile(t.Join("text"), "* a\n");
  PathSetBuilder text({"/"});
  runs = ReadPathList(t.Join("text"), text);
  ASSERT_TRUE(runs);
  EXPECT_TRUE(runs->empty());
}

TEST(PathListTest, BadLinesNameTheFileAndLine) {
  TempDir t;
  WriteFile(t.Join("l"), "* ok\n* bad\\q\n");
  PathSetBuilder builder({"/"});
  auto ok = ReadPathList(t.Join("l"), builder);
  ASSERT_FALSE(ok);
  EXPECT_THAT(ok.error().message, HasSubstr(t.Join("l") + ":2:"));
  PathSetBuilder other({"/"});
  EXPECT_FALSE(ReadPathList(t.Join("missing"), other));
}

// The CSV list (--list-format csv) read as plain paths named nothing that
// exists: the re-check said CONSISTENT. Its paths are not exact bytes (a
// name that is not UTF-8 is escaped like a name holding a backslash), so it
// is refused, naming the formats that work.
TEST(PathListTest, ACsvListIsRefusedNotReadAsPlainPaths) {
  TempDir t;
  WriteFile(t.Join("list.csv"),
            "dir_check,path,status,reason,source_type,source_size,source_hash,"
            "target_type,target_size,target_hash\n"
            "/,etc/passwd,different,content,file,10,ab,file,10,cd\n");
  PathSetBuilder builder({"/"});
  auto read = ReadPathList(t.Join("list.csv"), builder);
  ASSERT_FALSE(read);
  EXPECT_THAT(read.error().message, HasSubstr("list.csv:1: "));
  EXPECT_THAT(read.error().message, HasSubstr("CSV"));
  EXPECT_THAT(read.error().message, HasSubstr("--list-format text or jsonl"));
}

TEST(PathListTest, TheWireFormRoundTrips) {
  PathSets sets = {{"/", {"a", "a/b\nc", "z"}}, {"/empty", {}}};
  auto decoded = DecodePathSets(EncodePathSets(sets));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, sets);
  EXPECT_FALSE(DecodePathSets(std::string("/\0a", 3)));
}

}  // namespace
}  // namespace sms::agent
