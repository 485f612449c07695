#include "core/scanner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/path_order.h"
#include "testing/faulty_file_system.h"
#include "testing/temp_dir.h"

namespace sms::core {
namespace {

using ::sms::testing::MakeDirs;
using ::sms::testing::MakeSymlink;
using ::sms::testing::TempDir;
using ::sms::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Reads a whole scan back as "path" entries (sections dropped).
std::vector<Entry> Scan(FileSystem& fs, const std::string& root,
                        std::vector<std::string> dirs = {"/"},
                        ScanOptions options = {}) {
  options.threads = options.threads ? options.threads : 3;
  Scanner scanner(fs, SystemClock(), root, dirs, options);
  std::vector<Entry> out;
  for (;;) {
    auto item = scanner.Next();
    EXPECT_TRUE(item);
    if (!item || *item == nullptr) break;
    if ((*item)->kind == ItemKind::kEntry) out.push_back((*item)->entry);
  }
  return out;
}

std::vector<std::string> Paths(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.path);
  return out;
}

const Entry& Find(const std::vector<Entry>& entries, const std::string& path) {
  for (const auto& e : entries) {
    if (e.path == path) return e;
  }
  ADD_FAILURE() << "no entry " << path;
  static Entry none;
  return none;
}

TEST(ScannerTest, EmitsEveryEntryInWalkOrder) {
  TempDir t;
  WriteFile(t.Join("a-b"), "1");
  WriteFile(t.Join("a/x"), "2");
  WriteFile(t.Join("a/y/z"), "3");
  WriteFile(t.Join("B"), "4");
  MakeDirs(t.Join("empty"));
  auto entries = Scan(PosixFileSystem(), t.path());
  EXPECT_THAT(Paths(entries),
              ElementsAre("B", "a", "a/x", "a/y", "a/y/z", "a-b", "empty"));
  EXPECT_EQ(Find(entries, "a/x").size, 1u);
  EXPECT_EQ(Find(entries, "a/x").digest.size, 16);
  EXPECT_TRUE(Find(entries, "a").is_dir());
}

TEST(ScannerTest, ManyFilesKeepOrderAcrossBatchesAndWorkers) {
  TempDir t;
  for (int i = 0; i < 2000; ++i) {
    WriteFile(t.Join("d" + std::to_string(i % 7) + "/f" + std::to_string(i)),
              std::string(static_cast<size_t>(i % 300), 'x'));
  }
  auto entries = Scan(PosixFileSystem(), t.path());
  ASSERT_EQ(entries.size(), 2007u);
  for (size_t i = 1; i < entries.size(); ++i) {
    ASSERT_LT(ComparePaths(entries[i - 1].path, entries[i].path), 0) << i;
  }
  for (const auto& e : entries) {
    if (!e.is_dir()) {
      ASSERT_EQ(e.digest.size, 16) << e.path;
    }
  }
}

TEST(ScannerTest, SymlinksAreReadNotFollowedAndSpecialsNotOpened) {
  TempDir t;
  WriteFile(t.Join("file"), "content");
  MakeSymlink("file", t.Join("good"));
  MakeSymlink("/does/not/exist", t.Join("dangling"));
  MakeDirs(t.Join("dir"));
  MakeSymlink("dir", t.Join("dirlink"));
  ASSERT_EQ(mkfifo(t.Join("fifo").c_str(), 0600), 0);
  auto entries = Scan(PosixFileSystem(), t.path());
  EXPECT_THAT(Paths(entries), ElementsAre("dangling", "dir", "dirlink", "fifo",
                                          "file", "good"));
  EXPECT_EQ(Find(entries, "good").type, FileType::kSymlink);
  EXPECT_EQ(Find(entries, "good").link_target, "file");
  EXPECT_EQ(Find(entries, "dangling").link_target, "/does/not/exist");
  EXPECT_EQ(Find(entries, "dirlink").type, FileType::kSymlink);
  EXPECT_EQ(Find(entries, "fifo").type, FileType::kFifo);
  EXPECT_TRUE(Find(entries, "fifo").digest.empty());
}

TEST(ScannerTest, HardLinksShareOneDigest) {
  TempDir t;
  WriteFile(t.Join("one"), std::string(100000, 'h'));
  ASSERT_EQ(link(t.Join("one").c_str(), t.Join("two").c_str()), 0);
  auto entries = Scan(PosixFileSystem(), t.path());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].digest, entries[1].digest);
  EXPECT_FALSE(entries[0].digest.empty());
}

TEST(ScannerTest, AwkwardNamesAreCarriedExactly) {
  TempDir t;
  const std::vector<std::string> names = {"new\nline",   "-dash",  "*glob?[x]",
                                          "bad\xff\xfe", "sp ace", "Case",
                                          "case"};
  for (const auto& n : names) WriteFile(t.Join(n), n);
  // A path near PATH_MAX: 16 levels of 250-byte names.
  std::string deep;
  for (int i = 0; i < 16; ++i) {
    deep += std::string(250, static_cast<char>('a' + i));
    deep += '/';
  }
  const std::string deep_file = deep + "leaf";
  std::string cmd = "cd '" + t.path() + "' && mkdir -p '" + deep +
                    "' && echo x > '" + deep_file + "'";
  ASSERT_EQ(::sms::testing::RunShell(cmd), 0);
  auto entries = Scan(PosixFileSystem(), t.path());
  for (const auto& n : names) EXPECT_EQ(Find(entries, n).size, n.size()) << n;
  EXPECT_GT(deep_file.size(), 4000u);
  EXPECT_EQ(Find(entries, deep_file).size, 2u);
}

TEST(ScannerTest, UnreadableFileIsAnErrorAndTheWalkGoesOn) {
  TempDir t;
  WriteFile(t.Join("a"), "1");
  WriteFile(t.Join("secret"), "2");
  WriteFile(t.Join("z"), "3");
  testing::FaultyFileSystem fs;
  fs.FailOpen("secret", EACCES);
  auto entries = Scan(fs, t.path());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(Find(entries, "secret").state, EntryState::kError);
  EXPECT_THAT(Find(entries, "secret").error, HasSubstr("Permission denied"));
  EXPECT_EQ(Find(entries, "z").state, EntryState::kOk);
}

TEST(ScannerTest, UnreadableDirectoryIsAnErrorEntry) {
  TempDir t;
  WriteFile(t.Join("locked/inside"), "1");
  WriteFile(t.Join("open/inside"), "2");
  testing::FaultyFileSystem fs;
  fs.FailOpen("locked", EACCES);
  auto entries = Scan(fs, t.path());
  EXPECT_THAT(Paths(entries), ElementsAre("locked", "open", "open/inside"));
  EXPECT_EQ(Find(entries, "locked").state, EntryState::kError);
}

TEST(ScannerTest, FileGrowingWhileReadIsChangedNotDifferent) {
  TempDir t;
  WriteFile(t.Join("small.log"), "first line\n");
  WriteFile(t.Join("big.log"), std::string(3 << 20, 'b'));
  testing::FaultyFileSystem fs;
  fs.GrowWhileRead("small.log", t.Join("small.log"));
  fs.GrowWhileRead("big.log", t.Join("big.log"));
  auto entries = Scan(fs, t.path());
  EXPECT_EQ(Find(entries, "small.log").state, EntryState::kChanged);
  EXPECT_EQ(Find(entries, "big.log").state, EntryState::kChanged);
  EXPECT_TRUE(Find(entries, "big.log").digest.empty());
}

TEST(ScannerTest, ExcludesMatchNamesAnywhereAndRootRelativePaths) {
  TempDir t;
  WriteFile(t.Join("etc/app.log"), "");
  WriteFile(t.Join("etc/keep.conf"), "");
  WriteFile(t.Join("etc/cache/x"), "");
  WriteFile(t.Join("var/cache/y"), "");
  ScanOptions options;
  options.excludes = {"*.log", "/var/cache"};
  auto entries = Scan(PosixFileSystem(), t.path(), {"/etc", "/var"}, options);
  EXPECT_THAT(Paths(entries), ElementsAre("cache", "cache/x", "keep.conf"));
}

TEST(ScannerTest, SectionsReportMissingRoots) {
  TempDir t;
  WriteFile(t.Join("etc/a"), "");
  Scanner scanner(PosixFileSystem(), SystemClock(), t.path(), {"/etc", "/nope"},
                  {});
  std::vector<std::pair<std::string, RootState>> sections;
  for (;;) {
    auto item = scanner.Next();
    ASSERT_TRUE(item);
    if (*item == nullptr) break;
    if ((*item)->kind == ItemKind::kSectionStart) {
      sections.emplace_back((*item)->section.dir_check, (*item)->section.state);
    }
  }
  EXPECT_THAT(
      sections,
      ElementsAre(std::pair{std::string("/etc"), RootState::kOk},
                  std::pair{std::string("/nope"), RootState::kMissing}));
}

TEST(ScannerTest, QuickModeReadsNothing) {
  TempDir t;
  WriteFile(t.Join("f"), std::string(1000, 'q'));
  ScanOptions options;
  options.mode = CompareMode::kQuick;
  Scanner scanner(PosixFileSystem(), SystemClock(), t.path(), {"/"}, options);
  std::vector<Entry> entries;
  for (;;) {
    auto item = scanner.Next();
    ASSERT_TRUE(item);
    if (*item == nullptr) break;
    if ((*item)->kind == ItemKind::kEntry) entries.push_back((*item)->entry);
  }
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].digest.empty());
  EXPECT_EQ(entries[0].size, 1000u);
  EXPECT_EQ(scanner.progress().bytes_read.load(), 0u);
}

TEST(ScannerTest, CancelStopsPromptly) {
  TempDir t;
  for (int i = 0; i < 500; ++i) WriteFile(t.Join("f" + std::to_string(i)), "x");
  Scanner scanner(PosixFileSystem(), SystemClock(), t.path(), {"/"}, {});
  scanner.Cancel();
  Result<const Item*> item = nullptr;
  do {
    item = scanner.Next();
  } while (item && *item != nullptr);
  ASSERT_FALSE(item);
  EXPECT_EQ(item.error().code, ErrorCode::kCancelled);
}

}  // namespace
}  // namespace sms::core
