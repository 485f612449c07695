#include "storage/dirs_json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "testing/matchers.h"

namespace sms::storage {
namespace {

using core::ErrorCode;
using ::sms::testing::HasCode;
using ::sms::testing::IsOk;

DirResult Dir(std::string path, int64_t base) {
  DirResult d;
  d.dir_check = std::move(path);
  int64_t v = base;
  for (int64_t* f :
       {&d.num_total_files, &d.num_different_files, &d.num_target_miss_files,
        &d.num_target_more_files, &d.num_changed_files, &d.num_error_files,
        &d.num_metadata_different_files, &d.num_bytes_verified,
        &d.num_corrupt_files, &d.num_cached_files, &d.num_bytes_read,
        &d.num_target_cached_files, &d.num_target_bytes_read})
    *f = v++;
  return d;
}

void ExpectSame(const std::vector<DirResult>& got,
                const std::vector<DirResult>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].dir_check, want[i].dir_check) << i;
    EXPECT_EQ(got[i].num_total_files, want[i].num_total_files) << i;
    EXPECT_EQ(got[i].num_different_files, want[i].num_different_files) << i;
    EXPECT_EQ(got[i].num_target_miss_files, want[i].num_target_miss_files);
    EXPECT_EQ(got[i].num_target_more_files, want[i].num_target_more_files);
    EXPECT_EQ(got[i].num_changed_files, want[i].num_changed_files) << i;
    EXPECT_EQ(got[i].num_error_files, want[i].num_error_files) << i;
    EXPECT_EQ(got[i].num_metadata_different_files,
              want[i].num_metadata_different_files);
    EXPECT_EQ(got[i].num_bytes_verified, want[i].num_bytes_verified) << i;
    EXPECT_EQ(got[i].num_corrupt_files, want[i].num_corrupt_files) << i;
    EXPECT_EQ(got[i].num_cached_files, want[i].num_cached_files) << i;
    EXPECT_EQ(got[i].num_bytes_read, want[i].num_bytes_read) << i;
    EXPECT_EQ(got[i].num_target_cached_files, want[i].num_target_cached_files);
    EXPECT_EQ(got[i].num_target_bytes_read, want[i].num_target_bytes_read);
  }
}

TEST(DirsJsonTest, EveryFieldInOrderRoundTrips) {
  const std::vector<DirResult> dirs = {Dir("/data/a", 1), Dir("/data/b", 100)};
  const std::string text = EncodeDirs(dirs);
  EXPECT_EQ(text,
            "[[\"/data/a\",1,2,3,4,5,6,7,8,9,10,11,12,13],"
            "[\"/data/b\",100,101,102,103,104,105,106,107,108,109,110,111,"
            "112]]");
  auto back = DecodeDirs(text);
  ASSERT_THAT(back, IsOk());
  ExpectSame(*back, dirs);
}

TEST(DirsJsonTest, NoDirectoriesIsAnEmptyArray) {
  EXPECT_EQ(EncodeDirs({}), "[]");
  auto back = DecodeDirs(" [ ] ");
  ASSERT_THAT(back, IsOk());
  EXPECT_TRUE(back->empty());
}

TEST(DirsJsonTest, AnyPathAndTheLargestCountsRoundTrip) {
  DirResult odd = Dir("/q\"uote\\back\nline\ttab\x01\x7f/é/日本/😀", 0);
  odd.num_bytes_verified = std::numeric_limits<int64_t>::max();
  odd.num_bytes_read = std::numeric_limits<int64_t>::min();
  auto back = DecodeDirs(EncodeDirs({odd}));
  ASSERT_THAT(back, IsOk());
  ExpectSame(*back, {odd});
}

// What PostgreSQL's json_agg/json_build_array and SQLite's json_array wrote
// in migration 0019: spaces, and \u escapes (a surrogate pair too).
TEST(DirsJsonTest, ReadsWhatTheDatabasesWrite) {
  auto back = DecodeDirs(
      "[[\"/a\\u00e9\\ud83d\\ude00\\/b\", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,"
      " 12, 13], \n [\"/c\",0,0,0,0,0,0,0,0,0,0,0,0,-1]]");
  ASSERT_THAT(back, IsOk());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].dir_check, "/aé😀/b");
  EXPECT_EQ((*back)[0].num_target_bytes_read, 13);
  EXPECT_EQ((*back)[1].num_target_bytes_read, -1);
}

TEST(DirsJsonTest, TextOfAnotherShapeIsDataLossNamingWhere) {
  for (const char* bad :
       {"", "{}", "[[\"/a\",1]]", "[[\"/a\",1,2,3,4,5,6,7,8,9,10,11,12,13,14]]",
        "[[\"/a\",1.5,2,3,4,5,6,7,8,9,10,11,12,13]]",
        "[[1,1,2,3,4,5,6,7,8,9,10,11,12,13]]", "[[\"/a", "[[\"\\x\"]]",
        "[[\"/a\",1,2,3,4,5,6,7,8,9,10,11,12,13]] x",
        "[[\"/a\",1,2,3,4,5,6,7,8,9,10,11,12,99999999999999999999]]"}) {
    auto got = DecodeDirs(bad);
    EXPECT_THAT(got, HasCode(ErrorCode::kDataLoss)) << bad;
    if (!got) {
      EXPECT_NE(got.error().message.find("runs.dirs"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace sms::storage
