#include "core/marcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/vector_stream.h"

namespace sms::core {
namespace {

using ::sms::testing::Dir;
using ::sms::testing::File;
using ::sms::testing::Link;
using ::sms::testing::SectionEnd;
using ::sms::testing::SectionStart;
using ::sms::testing::VectorStream;
using ::sms::testing::WithState;
using ::testing::ElementsAre;

// Records "sigil path reason" per verdict.
class Recorder final : public VerdictSink {
 public:
  void OnVerdict(const std::string&, std::string_view path, const Verdict& v,
                 const Entry*, const Entry*) override {
    std::string line(1, StatusSigil(v.status));
    line += ' ';
    line += path;
    const std::string reason = ReasonText(v);
    if (!reason.empty()) line += " (" + reason + ")";
    lines.push_back(line);
  }
  std::vector<std::string> lines;
};

struct Run {
  std::vector<DirResult> results;
  std::vector<std::string> lines;
};

Run March(std::vector<Item> source, std::vector<Item> target,
          CompareOptions options = {}) {
  source.insert(source.begin(), SectionStart("/"));
  source.push_back(SectionEnd());
  if (target.empty() || target.front().kind != ItemKind::kSectionStart) {
    target.insert(target.begin(), SectionStart("/"));
  }
  target.push_back(SectionEnd());
  VectorStream s(std::move(source)), t(std::move(target));
  Recorder recorder;
  Marcher marcher(s, t, {"/"}, options, &recorder);
  auto results = marcher.Run();
  EXPECT_TRUE(results) << results.error().ToString();
  return {results ? *results : std::vector<DirResult>{}, recorder.lines};
}

TEST(MarcherTest, IdenticalTreesAreConsistent) {
  auto run = March({Dir("a"), File("a/x", "1"), File("b", "2")},
                   {Dir("a"), File("a/x", "1"), File("b", "2")});
  ASSERT_EQ(run.results.size(), 1u);
  const DirResult& r = run.results[0];
  EXPECT_EQ(r.total, 2u);
  EXPECT_TRUE(r.consistent());
  EXPECT_THAT(run.lines, ElementsAre("= a/x", "= b"));
  EXPECT_EQ(r.bytes_verified, 2u);
}

TEST(MarcherTest, SizeContentAndMtimeDifferences) {
  auto run = March({File("a", "12"), File("b", "xy"), File("c", "same", 1)},
                   {File("a", "123"), File("b", "xz"), File("c", "same", 2)});
  EXPECT_THAT(run.lines, ElementsAre("* a (size)", "* b (content)", "= c"));
  EXPECT_EQ(run.results[0].different, 2u);

  auto quick = March({File("c", "same", 1)}, {File("c", "same", 2)},
                     {.mode = CompareMode::kQuick});
  EXPECT_THAT(quick.lines, ElementsAre("* c (mtime)"));
}

TEST(MarcherTest, MissingDirectoryMakesEveryFileUnderItMissing) {
  auto run =
      March({Dir("d"), File("d/1", "a"), File("d/2", "b"), File("e", "")},
            {File("e", "")});
  EXPECT_THAT(run.lines, ElementsAre("- d", "- d/1", "- d/2", "= e"));
  const DirResult& r = run.results[0];
  EXPECT_EQ(r.total, 3u);
  EXPECT_EQ(r.target_miss, 2u);
  EXPECT_EQ(r.dirs_target_miss, 1u);
}

TEST(MarcherTest, ExtraDirectoryMakesEveryFileUnderItExtra) {
  auto run = March({File("a", "")}, {File("a", ""), Dir("n"), File("n/x", "")});
  EXPECT_THAT(run.lines, ElementsAre("= a", "+ n", "+ n/x"));
  EXPECT_EQ(run.results[0].target_more, 1u);
  EXPECT_EQ(run.results[0].dirs_target_more, 1u);
  EXPECT_EQ(run.results[0].total, 1u);
}

TEST(MarcherTest, FileAndDirWithSameNameAreTypeMismatch) {
  auto run = March({File("a", "x")}, {Dir("a"), File("a/inner", "")});
  EXPECT_THAT(run.lines, ElementsAre("* a (type)", "+ a/inner"));
  EXPECT_EQ(run.results[0].different, 1u);
  EXPECT_EQ(run.results[0].target_more, 1u);
}

TEST(MarcherTest, WalkOrderPutsSlashBeforeOtherBytes) {
  // "a/x" sorts before "a-b" because '/' ranks lowest.
  auto run = March({Dir("a"), File("a/x", ""), File("a-b", "")},
                   {Dir("a"), File("a/x", ""), File("a-b", "")});
  EXPECT_TRUE(run.results[0].consistent());
  EXPECT_EQ(run.results[0].total, 2u);
}

TEST(MarcherTest, SymlinksCompareTargetsNeverFollow) {
  auto run = March({Link("l1", "t"), Link("l2", "dangling")},
                   {Link("l1", "u"), Link("l2", "dangling")});
  EXPECT_THAT(run.lines, ElementsAre("* l1 (symlink)", "= l2"));
  EXPECT_EQ(run.results[0].total, 2u);
}

TEST(MarcherTest, ChangedAndErrorAreNeverDifferences) {
  auto run = March({WithState(File("c", "x"), EntryState::kChanged,
                              "changed while being read"),
                    WithState(File("e", "x"), EntryState::kError,
                              "open: Permission denied")},
                   {File("c", "y"), File("e", "x")});
  EXPECT_THAT(run.lines, ElementsAre("~ c (source changed while being read)",
                                     "! e (source: open: Permission denied)"));
  const DirResult& r = run.results[0];
  EXPECT_EQ(r.changed, 1u);
  EXPECT_EQ(r.errors, 1u);
  EXPECT_EQ(r.different, 0u);
  EXPECT_EQ(r.total, 2u);
  EXPECT_FALSE(r.consistent());
}

// An entry one side could not read (it vanished after the listing, or
// cannot be opened) is an error even where the other side has nothing: a
// file deleted from the source while the check ran is not "missing on the
// target", and an unreadable one is in doubt until it can be read.
TEST(MarcherTest, AnErrorOnOneSideOnlyIsAnErrorNotMissingOrExtra) {
  auto run = March({WithState(File("gone", "x"), EntryState::kError,
                              "open: No such file or directory"),
                    File("z", "")},
                   {WithState(File("locked", "x"), EntryState::kError,
                              "open: Permission denied"),
                    File("z", "")});
  EXPECT_THAT(run.lines,
              ElementsAre("! gone (source: open: No such file or directory)",
                          "! locked (target: open: Permission denied)", "= z"));
  const DirResult& r = run.results[0];
  EXPECT_EQ(r.errors, 2u);
  EXPECT_EQ(r.target_miss, 0u);
  EXPECT_EQ(r.target_more, 0u);
  EXPECT_EQ(r.total, 2u);  // the source's files: gone and z
}

TEST(MarcherTest, UnreadableDirectoryTurnsTheOtherSidesEntriesIntoErrors) {
  auto run = March({WithState(Dir("locked"), EntryState::kError,
                              "opendir: Permission denied"),
                    File("z", "")},
                   {Dir("locked"), File("locked/a", ""), File("z", "")});
  EXPECT_THAT(
      run.lines,
      ElementsAre("! locked (source: opendir: Permission denied)",
                  "! locked/a (source: cannot read directory locked)", "= z"));
  EXPECT_EQ(run.results[0].target_more, 0u);
  EXPECT_EQ(run.results[0].errors, 2u);
}

TEST(MarcherTest, MetadataComparedOnlyWhenAsked) {
  Item s = File("f", "same", 5);
  Item t = File("f", "same", 5);
  t.entry.mode = 0600;
  EXPECT_THAT(March({s}, {t}).lines, ElementsAre("= f"));
  auto run = March({s}, {t}, {.metadata = true});
  EXPECT_THAT(run.lines, ElementsAre("% f (mode)"));
  EXPECT_EQ(run.results[0].metadata_different, 1u);
}

TEST(MarcherTest, MissingTargetRootMakesEverythingMissing) {
  auto run = March({File("a", ""), File("b", "")},
                   {SectionStart("/", RootState::kMissing)});
  EXPECT_EQ(run.results[0].target_miss, 2u);
  EXPECT_TRUE(run.results[0].error.empty());
}

TEST(MarcherTest, MissingSourceRootIsAnErrorNotExtras) {
  std::vector<Item> source = {SectionStart("/", RootState::kMissing),
                              SectionEnd()};
  std::vector<Item> target = {SectionStart("/"), File("a", ""), SectionEnd()};
  VectorStream s(source), t(target);
  Marcher marcher(s, t, {"/"}, {}, nullptr);
  auto results = marcher.Run();
  ASSERT_TRUE(results);
  EXPECT_EQ((*results)[0].target_more, 0u);
  EXPECT_THAT((*results)[0].error, ::testing::HasSubstr("does not exist"));
}

TEST(MarcherTest, CorruptIsItsOwnClassAndCacheUseIsCounted) {
  Item cached = File("a", "1");
  cached.entry.cached = true;
  Item rotten = File("b", "2");
  rotten.entry.corrupt = true;
  Item target_cached = File("c", "333");
  target_cached.entry.cached = true;
  auto run = March({cached, rotten, File("c", "333")},
                   {File("a", "1"), File("b", "X"), target_cached});
  EXPECT_THAT(run.lines,
              ElementsAre("= a",
                          "# b (source: content changed, size, mtime, "
                          "ctime and inode did not)",
                          "= c"));
  const DirResult& r = run.results[0];
  EXPECT_EQ(r.corrupt, 1u);
  EXPECT_EQ(r.different, 0u);
  EXPECT_FALSE(r.consistent());
  EXPECT_EQ(r.cached, 1u);
  EXPECT_EQ(r.bytes_read, 4u);  // b and c
  EXPECT_EQ(r.target_cached, 1u);
  EXPECT_EQ(r.target_bytes_read, 2u);  // a and b
}

TEST(MarcherTest, TruncatedStreamIsAnError) {
  std::vector<Item> source = {SectionStart("/"), File("a", "")};
  std::vector<Item> target = {SectionStart("/"), File("a", ""), SectionEnd()};
  VectorStream s(source), t(target);
  Marcher marcher(s, t, {"/"}, {}, nullptr);
  auto results = marcher.Run();
  ASSERT_FALSE(results);
  EXPECT_EQ(results.error().code, ErrorCode::kDataLoss);
}

}  // namespace
}  // namespace sms::core
