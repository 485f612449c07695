#include "core/name_sorter.h"

#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "testing/faulty_file_system.h"
#include "testing/temp_dir.h"

namespace sms::core {
namespace {

using ::sms::testing::FaultyFileSystem;
using ::sms::testing::TempDir;
using ::testing::HasSubstr;

// `n` distinct names of 1..40 bytes (any byte but '/' and NUL, so high
// bytes that a signed comparison would misorder), each with its own type and
// inode, in random order.
std::vector<DirEntryName> RandomNames(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<DirEntryName> out;
  std::vector<std::string> seen;
  while (out.size() < n) {
    std::string name(1 + rng() % 40, 'x');
    for (char& c : name) {
      do {
        c = static_cast<char>(rng() % 256);
      } while (c == '/' || c == '\0');
    }
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    out.push_back({name, static_cast<FileType>(1 + rng() % 8), rng()});
  }
  return out;
}

// Feeds `names` to `sorter` in slices of 1..`max_slice`, then finishes.
Status AddInSlices(NameSorter& sorter, const std::vector<DirEntryName>& names,
                   size_t max_slice, uint32_t seed) {
  std::mt19937 rng(seed);
  size_t i = 0;
  while (i < names.size()) {
    const size_t n = std::min(names.size() - i, 1 + rng() % max_slice);
    std::vector<DirEntryName> slice(names.begin() + i, names.begin() + i + n);
    SMS_RETURN_IF_ERROR(sorter.Add(slice));
    EXPECT_TRUE(slice.empty());
    i += n;
  }
  return sorter.Finish();
}

std::vector<DirEntryName> Drain(NameSorter& sorter) {
  std::vector<DirEntryName> out;
  DirEntryName d;
  for (;;) {
    auto more = sorter.Next(d);
    EXPECT_TRUE(more) << more.error().message;
    if (!more || !*more) return out;
    out.push_back(d);
  }
}

void ExpectSortedCopyOf(const std::vector<DirEntryName>& got,
                        std::vector<DirEntryName> input) {
  std::sort(input.begin(), input.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  ASSERT_EQ(got.size(), input.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].name, input[i].name) << i;
    ASSERT_EQ(got[i].type_hint, input[i].type_hint) << i;
    ASSERT_EQ(got[i].ino, input[i].ino) << i;
  }
}

// The files in `dir` (a spill file has no name).
size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.' ? 1 : 0;
  closedir(d);
  return n;
}

TEST(NameSorterTest, UpToTheThresholdSortsInMemory) {
  TempDir spill;
  FaultyFileSystem fs;
  const auto names = RandomNames(50, 1);
  NameSorter sorter(fs, 50, spill.path());
  ASSERT_TRUE(AddInSlices(sorter, names, 7, 2));
  EXPECT_EQ(sorter.runs(), 0u);
  EXPECT_EQ(fs.temp_files_created(), 0u);
  EXPECT_EQ(sorter.count(), 50u);
  ExpectSortedCopyOf(Drain(sorter), names);
}

TEST(NameSorterTest, PastTheThresholdMergesSpilledRunsInTheSameOrder) {
  for (size_t threshold : {1, 2, 7, 64, 999}) {
    SCOPED_TRACE(threshold);
    TempDir spill;
    FaultyFileSystem fs;
    const auto names = RandomNames(1000, 3);
    NameSorter sorter(fs, threshold, spill.path());
    ASSERT_TRUE(AddInSlices(sorter, names, 300, 4));
    EXPECT_EQ(sorter.runs(), (1000 + threshold - 1) / threshold);
    EXPECT_EQ(fs.temp_files_created(), 1u);
    EXPECT_EQ(FilesIn(spill.path()), 0u);  // unnamed
    ExpectSortedCopyOf(Drain(sorter), names);
  }
}

TEST(NameSorterTest, OneNameOverTheThresholdSpillsTwoRuns) {
  TempDir spill;
  FaultyFileSystem fs;
  const auto names = RandomNames(11, 5);
  NameSorter sorter(fs, 10, spill.path());
  ASSERT_TRUE(AddInSlices(sorter, names, 11, 6));
  EXPECT_EQ(sorter.runs(), 2u);
  ExpectSortedCopyOf(Drain(sorter), names);
}

// Names are sorted by their first 8 bytes as one integer and by the whole
// name on a tie: names of 1..12 bytes over five bytes (high ones included)
// share heads, and many are prefixes of others; in memory and spilled, the
// order is std::sort's.
TEST(NameSorterTest, NamesSharingTheirFirstEightBytesKeepByteOrder) {
  std::mt19937 rng(7);
  const char alphabet[] = {'a', 'b', '\x7f', '\x80', '\xff'};
  std::vector<DirEntryName> names;
  std::vector<std::string> seen;
  while (names.size() < 2000) {
    std::string name(1 + rng() % 12, 'a');
    for (char& c : name) c = alphabet[rng() % 5];
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    names.push_back({name, FileType::kRegular, rng()});
  }
  for (size_t threshold : {size_t{7}, size_t{5000}}) {
    SCOPED_TRACE(threshold);
    TempDir spill;
    FaultyFileSystem fs;
    NameSorter sorter(fs, threshold, spill.path());
    ASSERT_TRUE(AddInSlices(sorter, names, 300, 8));
    EXPECT_EQ(sorter.runs(), threshold == 7 ? (2000 + 6) / 7 : 0u);
    ExpectSortedCopyOf(Drain(sorter), names);
  }
}

TEST(NameSorterTest, NamesLongerThanAReadBufferComeBackWhole) {
  TempDir spill;
  FaultyFileSystem fs;
  std::vector<DirEntryName> names;
  for (int i = 0; i < 40; ++i) {
    names.push_back({std::string(1 + (i * 7919) % 70000, 'a' + i % 26),
                     FileType::kRegular, uint64_t(i)});
    names.back().name += std::to_string(i);
  }
  NameSorter sorter(fs, 3, spill.path());
  ASSERT_TRUE(AddInSlices(sorter, names, 5, 7));
  ExpectSortedCopyOf(Drain(sorter), names);
}

TEST(NameSorterTest, AnUnwritableSpillDirectoryIsAnErrorNamingIt) {
  TempDir spill;
  FaultyFileSystem fs;
  fs.FailTempFiles(EACCES);
  NameSorter sorter(fs, 4, spill.path());
  auto names = RandomNames(5, 8);
  auto added = sorter.Add(names);
  ASSERT_FALSE(added);
  EXPECT_THAT(added.error().message, HasSubstr("more than 4 entries to sort"));
  EXPECT_THAT(added.error().message,
              HasSubstr("creating a temp file in " + spill.path()));
  EXPECT_THAT(added.error().message, HasSubstr("Permission denied"));
}

TEST(NameSorterTest, AMissingSpillDirectoryIsAnErrorNamingIt) {
  TempDir spill;
  NameSorter sorter(PosixFileSystem(), 4, spill.Join("gone"));
  auto names = RandomNames(5, 9);
  auto added = sorter.Add(names);
  ASSERT_FALSE(added);
  EXPECT_THAT(added.error().message, HasSubstr(spill.Join("gone")));
  EXPECT_THAT(added.error().message, HasSubstr("No such file or directory"));
}

TEST(NameSorterTest, AFullSpillDirectoryIsAnErrorNamingIt) {
  TempDir spill;
  FaultyFileSystem fs;
  fs.FailTempWritesAfter(100, ENOSPC);
  NameSorter sorter(fs, 4, spill.path());
  auto ok = AddInSlices(sorter, RandomNames(100, 10), 10, 11);
  ASSERT_FALSE(ok);
  EXPECT_THAT(ok.error().message,
              HasSubstr("temp file in " + spill.path() +
                        ": write: No space left on device"));
}

TEST(NameSorterTest, ATempFileThatCannotBeReadBackIsAnError) {
  TempDir spill;
  FaultyFileSystem fs;
  NameSorter sorter(fs, 4, spill.path());
  auto names = RandomNames(20, 12);
  ASSERT_TRUE(sorter.Add(names));
  fs.FailTempReads(EIO);
  auto ok = sorter.Finish();
  ASSERT_FALSE(ok);
  EXPECT_THAT(ok.error().message, HasSubstr("temp file in " + spill.path() +
                                            ": read: Input/output error"));
}

}  // namespace
}  // namespace sms::core
