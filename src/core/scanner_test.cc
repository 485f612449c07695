#include "core/scanner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "core/path_order.h"
#include "testing/fake_clock.h"
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

// ---- the hash cache --------------------------------------------------------

// A clock `ahead` past the real wall clock: digests taken "now" are far
// enough from the files' timestamps (written just before) to be trusted.
struct AheadClock {
  explicit AheadClock(std::chrono::seconds ahead) {
    const int64_t real_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count();
    clock.Advance(std::chrono::milliseconds(real_ms - clock.NowEpochMillis()) +
                  ahead);
  }
  testing::FakeClock clock;
};

struct CachedScan {
  std::vector<Entry> entries;
  std::vector<std::string> warnings;
};

CachedScan ScanCached(FileSystem& fs, Clock& clock, const std::string& root,
                      const std::string& cache, ScanOptions options = {}) {
  options.threads = 3;
  options.cache_path = cache;
  Scanner scanner(fs, clock, root, {"/"}, options);
  CachedScan out;
  for (;;) {
    auto item = scanner.Next();
    EXPECT_TRUE(item);
    if (!item || *item == nullptr) break;
    if ((*item)->kind == ItemKind::kEntry)
      out.entries.push_back((*item)->entry);
  }
  out.warnings = scanner.TakeWarnings();
  return out;
}

ScanOptions NoRandomRereads() {
  ScanOptions o;
  o.cache_policy.rehash_fraction = 0;
  return o;
}

int CountCached(const std::vector<Entry>& entries) {
  int n = 0;
  for (const auto& e : entries) n += e.cached ? 1 : 0;
  return n;
}

void WriteTree(TempDir& t, int files) {
  for (int i = 0; i < files; ++i) {
    WriteFile(t.Join("d" + std::to_string(i % 4) + "/f" + std::to_string(i)),
              "content " + std::to_string(i));
  }
}

TEST(ScannerCacheTest, ASecondScanReusesEveryDigestAndOpensNoFile) {
  TempDir t, c;
  WriteTree(t, 200);
  WriteFile(t.Join("big"), std::string(3 << 20, 'b'));
  AheadClock ahead(std::chrono::seconds(10));
  const std::string cache = c.Join("source.smscache");
  testing::FaultyFileSystem first_fs;
  auto first =
      ScanCached(first_fs, ahead.clock, t.path(), cache, NoRandomRereads());
  EXPECT_EQ(CountCached(first.entries), 0);
  EXPECT_EQ(first_fs.files_opened(), 201u);
  EXPECT_TRUE(first.warnings.empty());

  testing::FaultyFileSystem second_fs;
  auto second =
      ScanCached(second_fs, ahead.clock, t.path(), cache, NoRandomRereads());
  EXPECT_EQ(CountCached(second.entries), 201);
  EXPECT_EQ(second_fs.files_opened(), 0u);
  ASSERT_EQ(first.entries.size(), second.entries.size());
  for (size_t i = 0; i < first.entries.size(); ++i) {
    EXPECT_EQ(first.entries[i].path, second.entries[i].path);
    EXPECT_EQ(first.entries[i].digest, second.entries[i].digest) << i;
    EXPECT_EQ(first.entries[i].size, second.entries[i].size);
  }
}

TEST(ScannerCacheTest, ContentChangedWithTheMtimeRestoredIsReadAgain) {
  TempDir t, c;
  WriteTree(t, 20);
  AheadClock ahead(std::chrono::seconds(10));
  const std::string cache = c.Join("s.smscache");
  auto first = ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
                          NoRandomRereads());
  // Same size, same mtime (WriteFile sets it): `touch -r` after an edit.
  WriteFile(t.Join("d1/f5"), "CONTENT 5");
  auto second = ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
                           NoRandomRereads());
  EXPECT_EQ(CountCached(second.entries), 19);
  EXPECT_FALSE(Find(second.entries, "d1/f5").cached);
  EXPECT_FALSE(Find(first.entries, "d1/f5").digest ==
               Find(second.entries, "d1/f5").digest);
}

TEST(ScannerCacheTest, AFileReplacedBySameSizeAndMtimeIsReadAgain) {
  TempDir t, c;
  WriteTree(t, 20);
  AheadClock ahead(std::chrono::seconds(10));
  const std::string cache = c.Join("s.smscache");
  auto first = ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
                          NoRandomRereads());
  // Another file with the same size and mtime renamed over it: a new inode.
  WriteFile(t.Join("replacement"), "CONTENT 7");
  ASSERT_EQ(rename(t.Join("replacement").c_str(), t.Join("d3/f7").c_str()), 0);
  auto second = ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
                           NoRandomRereads());
  EXPECT_FALSE(Find(second.entries, "d3/f7").cached);
  EXPECT_FALSE(Find(first.entries, "d3/f7").digest ==
               Find(second.entries, "d3/f7").digest);
  EXPECT_EQ(CountCached(second.entries), 19);
}

TEST(ScannerCacheTest, ASameSecondRewriteOnA1SecondFileSystemIsReadAgain) {
  TempDir t, c;
  WriteFile(t.Join("f"), "version 1");
  const std::string cache = c.Join("s.smscache");
  // Timestamps in whole seconds, and the check right after the write: the
  // rewrite below keeps size, mtime and (within the second) ctime.
  testing::FaultyFileSystem fs;
  fs.CoarseTimestamps();
  auto first =
      ScanCached(fs, SystemClock(), t.path(), cache, NoRandomRereads());
  WriteFile(t.Join("f"), "version 2");
  auto second =
      ScanCached(fs, SystemClock(), t.path(), cache, NoRandomRereads());
  EXPECT_FALSE(Find(second.entries, "f").cached);
  EXPECT_FALSE(Find(first.entries, "f").digest ==
               Find(second.entries, "f").digest);
  // Long after its write, the same file's digest is trusted.
  AheadClock ahead(std::chrono::seconds(10));
  ScanCached(fs, ahead.clock, t.path(), cache, NoRandomRereads());
  auto later = ScanCached(fs, ahead.clock, t.path(), cache, NoRandomRereads());
  EXPECT_TRUE(Find(later.entries, "f").cached);
}

TEST(ScannerCacheTest, AReReadThatDisagreesUnderUnchangedMetadataIsCorrupt) {
  TempDir t, c;
  WriteTree(t, 20);
  AheadClock ahead(std::chrono::seconds(10));
  const std::string cache = c.Join("s.smscache");
  ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
             NoRandomRereads());
  testing::FaultyFileSystem decayed;
  decayed.CorruptReads("f3");
  ScanOptions all;
  all.cache_policy.rehash_fraction = 1;
  auto second = ScanCached(decayed, ahead.clock, t.path(), cache, all);
  EXPECT_EQ(CountCached(second.entries), 0);
  EXPECT_EQ(decayed.files_opened(), 20u);
  for (const auto& e : second.entries) {
    EXPECT_EQ(e.corrupt, e.path == "d3/f3") << e.path;
  }
  // The corrupt file is left out of the new cache: read again next time.
  auto third = ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
                          NoRandomRereads());
  EXPECT_EQ(CountCached(third.entries), 19);
  EXPECT_FALSE(Find(third.entries, "d3/f3").cached);
  EXPECT_FALSE(Find(third.entries, "d3/f3").corrupt);
}

TEST(ScannerCacheTest, OldDigestsAreReadAgain) {
  TempDir t, c;
  WriteTree(t, 10);
  AheadClock ahead(std::chrono::seconds(10));
  const std::string cache = c.Join("s.smscache");
  ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
             NoRandomRereads());
  ahead.clock.Advance(std::chrono::hours(24 * 31));
  auto aged = ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
                         NoRandomRereads());
  EXPECT_EQ(CountCached(aged.entries), 0);
  auto fresh = ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
                          NoRandomRereads());
  EXPECT_EQ(CountCached(fresh.entries), 10);
}

TEST(ScannerCacheTest, UnstableInodesAreCachedWithoutTheInode) {
  TempDir t, c;
  WriteTree(t, 10);
  AheadClock ahead(std::chrono::seconds(120));
  const std::string cache = c.Join("s.smscache");
  testing::FaultyFileSystem fuse;
  fuse.UnstableInodes();
  ScanCached(fuse, ahead.clock, t.path(), cache, NoRandomRereads());
  auto second =
      ScanCached(fuse, ahead.clock, t.path(), cache, NoRandomRereads());
  EXPECT_EQ(CountCached(second.entries), 10);
  // Their timestamps come from a server's clock: digests taken less than
  // the network slack after the last change are not trusted.
  AheadClock soon(std::chrono::seconds(10));
  const std::string other = c.Join("other.smscache");
  ScanCached(fuse, soon.clock, t.path(), other, NoRandomRereads());
  EXPECT_EQ(CountCached(
                ScanCached(fuse, soon.clock, t.path(), other, NoRandomRereads())
                    .entries),
            0);
}

TEST(ScannerCacheTest,
     ACacheOfAnotherAlgorithmOrTruncatedIsIgnoredWithAWarning) {
  TempDir t, c;
  WriteTree(t, 10);
  AheadClock ahead(std::chrono::seconds(10));
  const std::string cache = c.Join("s.smscache");
  ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
             NoRandomRereads());
  ScanOptions sha = NoRandomRereads();
  sha.hash = HashAlgorithm::kSha256;
  auto other = ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache, sha);
  EXPECT_EQ(CountCached(other.entries), 0);
  ASSERT_EQ(other.warnings.size(), 1u);
  EXPECT_THAT(other.warnings[0], HasSubstr("written for xxh128"));
  EXPECT_EQ(Find(other.entries, "d0/f0").digest.size, 32);
  // The sha256 check wrote its own: the next one reuses it.
  auto again = ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache, sha);
  EXPECT_EQ(CountCached(again.entries), 10);

  const std::string bytes = testing::ReadFile(cache);
  WriteFile(cache, bytes.substr(0, bytes.size() / 2));
  auto truncated =
      ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache, sha);
  EXPECT_EQ(CountCached(truncated.entries), 0);
  ASSERT_EQ(truncated.warnings.size(), 1u);
  EXPECT_THAT(truncated.warnings[0], HasSubstr("truncated or corrupted"));
  for (const auto& e : truncated.entries) {
    if (!e.is_dir()) {
      EXPECT_EQ(e.digest, Find(again.entries, e.path).digest);
    }
  }
}

TEST(ScannerCacheTest, ACancelledScanLeavesThePreviousCache) {
  TempDir t, c;
  WriteTree(t, 600);
  AheadClock ahead(std::chrono::seconds(10));
  const std::string cache = c.Join("s.smscache");
  ScanCached(PosixFileSystem(), ahead.clock, t.path(), cache,
             NoRandomRereads());
  const std::string before = testing::ReadFile(cache);
  WriteFile(t.Join("d0/f0"), "changed, longer content");
  {
    ScanOptions o = NoRandomRereads();
    o.cache_path = cache;
    Scanner scanner(PosixFileSystem(), ahead.clock, t.path(), {"/"}, o);
    ASSERT_TRUE(scanner.Next());
    scanner.Cancel();
  }
  EXPECT_EQ(testing::ReadFile(cache), before);
}

TEST(ScannerTest, OnlyListedPathsAreChecked) {
  TempDir t;
  WriteFile(t.Join("a/x"), "1");
  WriteFile(t.Join("a/y"), "2");
  WriteFile(t.Join("b"), "3");
  WriteFile(t.Join("c/d/e"), "4");
  MakeSymlink("a", t.Join("link"));
  ScanOptions o;
  o.only_paths =
      std::make_shared<std::map<std::string, std::vector<std::string>>>(
          std::map<std::string, std::vector<std::string>>{
              {"/", {"a/y", "b", "c/d", "gone", "link/x", "nodir/z"}}});
  auto entries = Scan(PosixFileSystem(), t.path(), {"/"}, o);
  EXPECT_THAT(Paths(entries), ElementsAre("a/y", "b", "c/d"));
  EXPECT_EQ(Find(entries, "a/y").digest.size, 16);
  EXPECT_TRUE(Find(entries, "c/d").is_dir());
}

}  // namespace
}  // namespace sms::core
