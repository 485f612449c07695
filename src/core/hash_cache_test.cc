#include "core/hash_cache.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/path_order.h"
#include "testing/temp_dir.h"

namespace sms::core {
namespace {

using ::sms::testing::ReadFile;
using ::sms::testing::TempDir;
using ::sms::testing::WriteFile;

constexpr int64_t kSec = 1'000'000'000;

Entry CachedFile(const std::string& path, uint8_t fill) {
  Entry e;
  e.path = path;
  e.type = FileType::kRegular;
  e.size = 10;
  e.dev = 7;
  e.ino = 100 + fill;
  e.mtime_ns = 1000 * kSec + 123;
  e.ctime_ns = 1000 * kSec + 456;
  e.hashed_at_ns = 2000 * kSec;
  e.digest.size = 16;
  e.digest.bytes.fill(fill);
  return e;
}

CacheParams Params() {
  return {HashAlgorithm::kXxh128, kDefaultChunkSize, "/srv", {"/etc", "/var"}};
}

void WriteSample(const std::string& path) {
  auto w = CacheWriter::Create(path, Params());
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE((*w)->StartSection("/etc"));
  ASSERT_TRUE((*w)->Add(CachedFile("a", 1)));
  ASSERT_TRUE((*w)->Add(CachedFile("a/b", 2)));
  ASSERT_TRUE((*w)->Add(CachedFile("a-c", 3)));
  ASSERT_TRUE((*w)->StartSection("/var"));
  ASSERT_TRUE((*w)->Add(CachedFile("log", 4)));
  ASSERT_TRUE((*w)->Commit());
}

TEST(HashCacheTest, RecordsComeBackInWalkOrderPerSection) {
  TempDir t;
  const std::string path = t.Join("c/source.smscache");
  WriteSample(path);
  auto r = CacheReader::Open(path, Params());
  ASSERT_TRUE(r) << r.error().message;
  (*r)->StartSection("/etc");
  EXPECT_EQ((*r)->Find("0"), nullptr);
  const CacheRecord* a = (*r)->Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ino, 101u);
  EXPECT_EQ(a->mtime_ns, 1000 * kSec + 123);
  EXPECT_EQ(a->ctime_ns, 1000 * kSec + 456);
  EXPECT_EQ(a->hashed_at_ns, 2000 * kSec);
  // "a/a" is not there; "a/b" is skipped to reach "a-c".
  EXPECT_EQ((*r)->Find("a/a"), nullptr);
  const CacheRecord* c = (*r)->Find("a-c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->digest.bytes[0], 3);
  EXPECT_EQ((*r)->Find("z"), nullptr);
  (*r)->StartSection("/var");
  const CacheRecord* log = (*r)->Find("log");
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->digest.bytes[15], 4);
}

// Records are decoded in place over the previous record's path: paths that
// share long prefixes, paths longer than the reader's 256 KiB buffer, every
// varint width and a path that shares nothing with the last of the previous
// section all come back field for field.
TEST(HashCacheTest, RecordsOfEveryShapeComeBackFieldForField) {
  TempDir t;
  const std::string path = t.Join("shapes.smscache");
  std::vector<Entry> first, second;
  for (int i = 0; i < 3000; ++i) {
    Entry e =
        CachedFile("dir" + std::string(static_cast<size_t>(i % 7) * 40, 'd') +
                       "/f" + std::to_string(100000 + i),
                   static_cast<uint8_t>(i));
    e.dev = uint64_t{1} << (i % 64);
    e.ino = ~uint64_t{0} - static_cast<uint64_t>(i);
    e.size = static_cast<uint64_t>(i) * 977;
    e.mtime_ns = (i % 2 == 0 ? -1 : 1) * (int64_t{1} << (i % 63));
    e.ctime_ns = -static_cast<int64_t>(i);
    e.digest.size = static_cast<uint8_t>(i % 2 == 0 ? 16 : 32);
    first.push_back(e);
  }
  std::sort(first.begin(), first.end(), [](const Entry& a, const Entry& b) {
    return ComparePaths(a.path, b.path) < 0;
  });
  second.push_back(CachedFile(std::string(300'000, 'x'), 9));
  second.push_back(CachedFile(std::string(300'000, 'x') + "/y", 8));
  second.push_back(CachedFile("z", 7));
  {
    auto w = CacheWriter::Create(path, Params());
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_TRUE((*w)->StartSection("/etc"));
    for (const Entry& e : first) ASSERT_TRUE((*w)->Add(e));
    ASSERT_TRUE((*w)->StartSection("/var"));
    for (const Entry& e : second) ASSERT_TRUE((*w)->Add(e));
    ASSERT_TRUE((*w)->Commit());
  }
  auto r = CacheReader::Open(path, Params());
  ASSERT_TRUE(r) << r.error().message;
  auto expect_same = [&](const Entry& e) {
    const CacheRecord* got = (*r)->Find(e.path);
    ASSERT_NE(got, nullptr) << e.path.substr(0, 80);
    EXPECT_EQ(got->path, e.path);
    EXPECT_EQ(got->dev, e.dev);
    EXPECT_EQ(got->ino, e.ino);
    EXPECT_EQ(got->size, e.size);
    EXPECT_EQ(got->mtime_ns, e.mtime_ns);
    EXPECT_EQ(got->ctime_ns, e.ctime_ns);
    EXPECT_EQ(got->hashed_at_ns, e.hashed_at_ns);
    EXPECT_EQ(got->digest, e.digest);
  };
  (*r)->StartSection("/etc");
  for (const Entry& e : first) expect_same(e);
  (*r)->StartSection("/var");
  for (const Entry& e : second) expect_same(e);
}

TEST(HashCacheTest, ASectionNotAskedForIsSkipped) {
  TempDir t;
  WriteSample(t.Join("x.smscache"));
  auto r = CacheReader::Open(t.Join("x.smscache"), Params());
  ASSERT_TRUE(r);
  (*r)->StartSection("/var");
  ASSERT_NE((*r)->Find("log"), nullptr);
}

TEST(HashCacheTest, TruncatedCorruptedForeignOrOtherAlgorithmIsNotUsed) {
  TempDir t;
  const std::string path = t.Join("x.smscache");
  WriteSample(path);
  const std::string good = ReadFile(path);

  WriteFile(path, good.substr(0, good.size() - 20));
  auto truncated = CacheReader::Open(path, Params());
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message.find("truncated or corrupted"),
            std::string::npos);

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40;
  WriteFile(path, flipped);
  EXPECT_FALSE(CacheReader::Open(path, Params()));

  WriteFile(path, "SMSMANIF this is a manifest, not a cache");
  auto foreign = CacheReader::Open(path, Params());
  ASSERT_FALSE(foreign);
  EXPECT_NE(foreign.error().message.find("not a hash cache"),
            std::string::npos);

  WriteFile(path, good);
  CacheParams sha = Params();
  sha.hash = HashAlgorithm::kSha256;
  auto other = CacheReader::Open(path, sha);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("written for xxh128"), std::string::npos)
      << other.error().message;

  CacheParams tree = Params();
  tree.root = "/elsewhere";
  EXPECT_FALSE(CacheReader::Open(path, tree));

  auto missing = CacheReader::Open(t.Join("none"), Params());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(HashCacheTest, AnUncommittedWriterLeavesThePreviousCache) {
  TempDir t;
  const std::string path = t.Join("x.smscache");
  WriteSample(path);
  const std::string before = ReadFile(path);
  {
    auto w = CacheWriter::Create(path, Params());
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->StartSection("/etc"));
    ASSERT_TRUE((*w)->Add(CachedFile("new", 9)));
    // Dropped without Commit(): a crash, a cancelled check.
  }
  EXPECT_EQ(ReadFile(path), before);
  EXPECT_EQ(
      ::sms::testing::RunShell("test $(ls '" + t.path() + "' | wc -l) -eq 1"),
      0)
      << "the temporary file was left behind";
}

StatInfo StatOf(const CacheRecord& r) {
  StatInfo st;
  st.type = FileType::kRegular;
  st.size = r.size;
  st.mtime_ns = r.mtime_ns;
  st.ctime_ns = r.ctime_ns;
  st.dev = r.dev;
  st.ino = r.ino;
  return st;
}

CacheRecord Record() {
  CacheRecord r;
  r.path = "f";
  r.dev = 1;
  r.ino = 2;
  r.size = 3;
  r.mtime_ns = 1000 * kSec + 5;
  r.ctime_ns = 1000 * kSec + 7;
  r.hashed_at_ns = 1001 * kSec;
  r.digest.size = 16;
  return r;
}

CachePolicy NoRandom() {
  CachePolicy p;
  p.rehash_fraction = 0;
  p.now_ns = 1002 * kSec;
  return p;
}

TEST(HashCacheTest, ReusesOnlyWhenEveryKeyMatches) {
  const CacheRecord r = Record();
  const FsTraits local;
  EXPECT_EQ(DecideCacheUse(r, StatOf(r), local, NoRandom()), CacheUse::kReuse);
  auto with = [&](auto change) {
    StatInfo st = StatOf(r);
    change(st);
    return DecideCacheUse(r, st, local, NoRandom());
  };
  EXPECT_EQ(with([](StatInfo& s) { s.size = 4; }), CacheUse::kMiss);
  EXPECT_EQ(with([](StatInfo& s) { s.mtime_ns += 1; }), CacheUse::kMiss);
  EXPECT_EQ(with([](StatInfo& s) { s.ctime_ns += 1; }), CacheUse::kMiss);
  EXPECT_EQ(with([](StatInfo& s) { s.ino = 9; }), CacheUse::kMiss);
  EXPECT_EQ(with([](StatInfo& s) { s.dev = 9; }), CacheUse::kMiss);
  EXPECT_EQ(with([](StatInfo& s) { s.type = FileType::kSymlink; }),
            CacheUse::kMiss);
}

TEST(HashCacheTest, UnstableInodesAreNotComparedButTheWindowGrows) {
  CacheRecord r = Record();
  FsTraits fuse;
  fuse.stable_inodes = false;
  StatInfo st = StatOf(r);
  st.ino = 99;
  st.dev = 98;
  // Hashed 1 s after the last change: trusted locally, not over the network
  // (the server's clock may be off).
  EXPECT_EQ(DecideCacheUse(r, st, fuse, NoRandom()), CacheUse::kMiss);
  r.hashed_at_ns = r.ctime_ns + kNetworkClockSlackNs + kSec;
  EXPECT_EQ(DecideCacheUse(r, st, fuse, NoRandom()), CacheUse::kReuse);
}

TEST(HashCacheTest, RacyDigestsAreNotTrusted) {
  CacheRecord r = Record();
  const FsTraits local;
  // Hashed within the slack after the last change.
  r.hashed_at_ns = r.ctime_ns + kTimestampSlackNs / 2;
  EXPECT_EQ(DecideCacheUse(r, StatOf(r), local, NoRandom()), CacheUse::kMiss);
  // Whole-second timestamps: a 1- or 2-second file system; 1.5 s is racy.
  r.mtime_ns = 1000 * kSec;
  r.ctime_ns = 1000 * kSec;
  r.hashed_at_ns = r.ctime_ns + kSec + kSec / 2;
  EXPECT_EQ(DecideCacheUse(r, StatOf(r), local, NoRandom()), CacheUse::kMiss);
  r.hashed_at_ns = r.ctime_ns + 3 * kSec;
  EXPECT_EQ(DecideCacheUse(r, StatOf(r), local, NoRandom()), CacheUse::kReuse);
  // A measured granularity widens the window too.
  CachePolicy coarse = NoRandom();
  coarse.granularity_ns = 10 * kSec;
  EXPECT_EQ(DecideCacheUse(r, StatOf(r), local, coarse), CacheUse::kMiss);
}

TEST(HashCacheTest, OldDigestsAndARandomFractionAreReadAgain) {
  const CacheRecord r = Record();
  const FsTraits local;
  CachePolicy old = NoRandom();
  old.max_age_ns = kSec / 2;
  EXPECT_EQ(DecideCacheUse(r, StatOf(r), local, old), CacheUse::kVerify);
  CachePolicy all = NoRandom();
  all.rehash_fraction = 1;
  EXPECT_EQ(DecideCacheUse(r, StatOf(r), local, all), CacheUse::kVerify);
  // About 10% of 10,000 paths.
  CachePolicy tenth = NoRandom();
  tenth.rehash_fraction = 0.1;
  tenth.seed = 42;
  int verify = 0;
  for (int i = 0; i < 10000; ++i) {
    CacheRecord ri = r;
    ri.path = "file" + std::to_string(i);
    const CacheUse use = DecideCacheUse(ri, StatOf(ri), local, tenth);
    if (use == CacheUse::kVerify) ++verify;
    // The scanner passes the entry's path beside the record's metadata (no
    // copy of the path): the pick is the path's, the same either way.
    const CachedDigest& digest = ri;
    EXPECT_EQ(DecideCacheUse(ri.path, digest, StatOf(ri), local, tenth), use);
  }
  EXPECT_GT(verify, 800);
  EXPECT_LT(verify, 1200);
}

TEST(HashCacheTest, MeasuresTheGranularityOfATempDirectory) {
  TempDir t;
  auto g = MeasureTimestampGranularity(t.path());
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_GE(*g, 1);
  EXPECT_LE(*g, 2 * kSec);
  EXPECT_FALSE(MeasureTimestampGranularity(t.Join("no/such/dir")));
}

TEST(HashCacheTest, FileNamesDependOnRootAndDirectories) {
  const std::string a = CacheFilePath("/c", "source", "/srv", {"/"});
  EXPECT_EQ(a.rfind("/c/source-", 0), 0u);
  EXPECT_NE(a, CacheFilePath("/c", "source", "/srv", {"/etc"}));
  EXPECT_NE(a, CacheFilePath("/c", "source", "/srv2", {"/"}));
  EXPECT_EQ(a, CacheFilePath("/c", "source", "/srv", {"/"}));
}

long MaxRssKb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Issue 12: 10 M cached files in < 256 MiB. The cache is written and read as
// a stream: memory does not grow with the number of records. Slow (writes
// and reads ~650 MB): run with SMS_SCALE_TESTS=1.
TEST(HashCacheTest, TenMillionRecordsStreamInBoundedMemory) {
  if (getenv("SMS_SCALE_TESTS") == nullptr) {
    GTEST_SKIP() << "set SMS_SCALE_TESTS=1 to run";
  }
  constexpr int kRecords = 10'000'000;
  TempDir t;
  const std::string path = t.Join("big.smscache");
  CacheParams params{HashAlgorithm::kXxh128, kDefaultChunkSize, "/", {"/"}};
  const long before = MaxRssKb();
  {
    auto w = CacheWriter::Create(path, params);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->StartSection("/"));
    Entry e = CachedFile("", 1);
    char name[64];
    for (int i = 0; i < kRecords; ++i) {
      snprintf(name, sizeof(name), "d%04d/f%08d", i / 10000, i);
      e.path = name;
      e.ino = static_cast<uint64_t>(i);
      ASSERT_TRUE((*w)->Add(e));
    }
    ASSERT_TRUE((*w)->Commit());
  }
  auto r = CacheReader::Open(path, params);
  ASSERT_TRUE(r) << r.error().message;
  (*r)->StartSection("/");
  char name[64];
  int found = 0;
  for (int i = 0; i < kRecords; i += 3) {  // the walk skips some records
    snprintf(name, sizeof(name), "d%04d/f%08d", i / 10000, i);
    const CacheRecord* rec = (*r)->Find(name);
    if (rec != nullptr && rec->ino == static_cast<uint64_t>(i)) ++found;
  }
  EXPECT_EQ(found, (kRecords + 2) / 3);
  const long grown_mb = (MaxRssKb() - before) / 1024;
  EXPECT_LT(grown_mb, 32) << "the cache must be streamed, not loaded";
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  printf("10M records: %lld bytes on disk, peak RSS grew by %ld MB\n",
         static_cast<long long>(st.st_size), grown_mb);
}

}  // namespace
}  // namespace sms::core
