#include "core/inode_cache.h"

#include <gtest/gtest.h>

namespace sms::core {
namespace {

StatInfo Linked(uint64_t ino, uint64_t nlink) {
  StatInfo st;
  st.type = FileType::kRegular;
  st.dev = 1;
  st.ino = ino;
  st.size = 10;
  st.mtime_ns = 5;
  st.ctime_ns = 6;
  st.nlink = nlink;
  return st;
}

Digest DigestOf(uint8_t byte) {
  Digest d;
  d.size = 16;
  d.bytes[0] = byte;
  return d;
}

TEST(InodeCacheTest, EachOtherLinkFindsTheDigestThenTheEntryGoes) {
  InodeCache cache;
  cache.Insert(Linked(7, 3), DigestOf(7), 100);
  Digest d;
  int64_t at = 0;
  ASSERT_TRUE(cache.Lookup(Linked(7, 3), d, at));
  EXPECT_EQ(d, DigestOf(7));
  EXPECT_EQ(at, 100);
  EXPECT_EQ(cache.size(), 1u);  // one more link to come
  ASSERT_TRUE(cache.Lookup(Linked(7, 3), d, at));
  EXPECT_EQ(cache.size(), 0u);  // all three links seen
  EXPECT_FALSE(cache.Lookup(Linked(7, 3), d, at));
}

TEST(InodeCacheTest, AChangedInodeIsNotFound) {
  InodeCache cache;
  cache.Insert(Linked(7, 2), DigestOf(7), 100);
  StatInfo moved = Linked(7, 2);
  moved.ctime_ns = 99;
  Digest d;
  int64_t at = 0;
  EXPECT_FALSE(cache.Lookup(moved, d, at));
}

// Links outside the tree (backup snapshots: every inode has one per
// snapshot) are never looked up: the cache keeps the newest entries only.
TEST(InodeCacheTest, MemoryIsBoundedWhenOtherLinksNeverCome) {
  InodeCache cache(100);
  for (uint64_t ino = 1; ino <= 10'000; ++ino) {
    cache.Insert(Linked(ino, 2), DigestOf(static_cast<uint8_t>(ino)), 1);
    ASSERT_LE(cache.size(), 100u);
  }
  Digest d;
  int64_t at = 0;
  EXPECT_FALSE(cache.Lookup(Linked(1, 2), d, at));  // dropped: read again
  EXPECT_TRUE(cache.Lookup(Linked(10'000, 2), d, at));
  // Entries that go by their link count leave no stale weight behind.
  InodeCache counted(100);
  for (uint64_t ino = 1; ino <= 10'000; ++ino) {
    counted.Insert(Linked(ino, 2), DigestOf(1), 1);
    ASSERT_TRUE(counted.Lookup(Linked(ino, 2), d, at));
  }
  EXPECT_EQ(counted.size(), 0u);
}

TEST(InodeCacheTest, AClaimKeepsASecondReaderOut) {
  InodeCache cache;
  EXPECT_TRUE(cache.Claim(1, 7));
  EXPECT_FALSE(cache.Claim(1, 7));
  const std::pair<uint64_t, uint64_t> key{1, 7};
  cache.Release({&key, 1});
  cache.WaitUnclaimed(1, 7);  // returns at once
  cache.Insert(Linked(7, 2), DigestOf(7), 1);
  EXPECT_FALSE(cache.Claim(1, 7));  // digested already
}

}  // namespace
}  // namespace sms::core
