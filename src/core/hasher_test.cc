#include "core/hasher.h"

#include <gtest/gtest.h>

#include <random>

#include "testing/temp_dir.h"

namespace sms::core {
namespace {

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(HasherTest, StreamingEqualsWholeForAnySplitAndChunking) {
  for (auto algorithm : {HashAlgorithm::kXxh128, HashAlgorithm::kSha256}) {
    for (size_t size : {0u, 1u, 63u, 64u, 65u, 200u, 1000u}) {
      const std::string data = RandomBytes(size, static_cast<unsigned>(size));
      ContentHasher hasher(algorithm, /*chunk_size=*/64);
      const Digest whole = hasher.HashWhole(Span(data));
      for (size_t split : {size_t{1}, size_t{7}, size_t{64}, size_t{100}}) {
        hasher.Reset();
        for (size_t off = 0; off < data.size(); off += split) {
          hasher.Update(Span(data).subspan(off, std::min(split, size - off)));
        }
        EXPECT_EQ(hasher.Finish(), whole) << size << "/" << split;
      }
    }
  }
}

// Files up to one chunk hash exactly like the standard tools.
TEST(HasherTest, MatchesXxhsumAndSha256sum) {
  testing::TempDir t;
  const std::string data = RandomBytes(100000, 42);
  testing::WriteFile(t.Join("f"), data);
  ContentHasher xxh(HashAlgorithm::kXxh128, kDefaultChunkSize);
  ContentHasher sha(HashAlgorithm::kSha256, kDefaultChunkSize);
  ASSERT_EQ(testing::RunShell("cd '" + t.path() +
                              "' && xxhsum -H2 f | cut -d' ' -f1 > x && "
                              "sha256sum f | cut -d' ' -f1 > s"),
            0);
  EXPECT_EQ(xxh.HashWhole(Span(data)).Hex() + "\n",
            testing::ReadFile(t.Join("x")));
  EXPECT_EQ(sha.HashWhole(Span(data)).Hex() + "\n",
            testing::ReadFile(t.Join("s")));
}

TEST(HasherTest, ChunkedDigestDiffersFromPlainOnlyAboveOneChunk) {
  const std::string data = RandomBytes(129, 1);
  ContentHasher small(HashAlgorithm::kXxh128, 64);
  ContentHasher big(HashAlgorithm::kXxh128, 1024);
  EXPECT_NE(small.HashWhole(Span(data)), big.HashWhole(Span(data)));
  const std::string exact = RandomBytes(64, 2);
  EXPECT_EQ(small.HashWhole(Span(exact)), big.HashWhole(Span(exact)));
}

}  // namespace
}  // namespace sms::core
