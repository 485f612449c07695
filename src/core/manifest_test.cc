#include "core/manifest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/marcher.h"
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

std::vector<Item> Sample() {
  Item dev;
  dev.entry.path = "dev/null";
  dev.entry.type = FileType::kCharDevice;
  dev.entry.rdev = 259;
  dev.entry.mtime_ns = -5;  // before the epoch
  Item cached = File("a/x1", "from the hash cache");
  cached.entry.cached = true;
  Item corrupt = File("a/x2", "re-read, other content");
  corrupt.entry.corrupt = true;
  return {
      SectionStart("/etc"),
      Dir("a"),
      File("a/x", "hello"),
      cached,
      corrupt,
      File("a/y\n\xff", "bytes"),
      Link("a/z", "../nowhere"),
      WithState(File("b", "q"), EntryState::kError, "open: Permission denied"),
      dev,
      SectionEnd(),
      SectionStart("/var", RootState::kMissing),
      SectionEnd()};
}

ManifestParams Params() {
  return {CompareMode::kHash,
          HashAlgorithm::kXxh128,
          kDefaultChunkSize,
          {"/etc", "/var"}};
}

// Reads what was written to in-memory file `fd`.
std::string ReadBack(int fd) {
  std::string out;
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

// Writes `items` as a manifest; returns its bytes.
std::string Encode(const std::vector<Item>& items, const ManifestParams& p) {
  int fd = memfd_create("manifest", MFD_CLOEXEC);
  VectorStream stream(items);
  EXPECT_TRUE(WriteManifest(stream, p, fd));
  std::string out = ReadBack(fd);
  close(fd);
  return out;
}

// Decodes `bytes`; returns the items read, or the first error.
Result<std::vector<Item>> Decode(const std::string& bytes,
                                 const ManifestParams& p) {
  int fd = memfd_create("manifest", MFD_CLOEXEC);
  EXPECT_EQ(write(fd, bytes.data(), bytes.size()),
            static_cast<ssize_t>(bytes.size()));
  lseek(fd, 0, SEEK_SET);
  ManifestReader reader(fd, p);
  std::vector<Item> out;
  Result<std::vector<Item>> result = out;
  for (;;) {
    auto item = reader.Next();
    if (!item) {
      result = Fail(item.error());
      break;
    }
    if (*item == nullptr) {
      result = out;
      break;
    }
    out.push_back(**item);
  }
  close(fd);
  return result;
}

TEST(ManifestTest, RoundTripsEveryField) {
  const auto items = Sample();
  auto decoded = Decode(Encode(items, Params()), Params());
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  ASSERT_EQ(decoded->size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& a = items[i];
    const Item& b = (*decoded)[i];
    ASSERT_EQ(a.kind, b.kind) << i;
    if (a.kind == ItemKind::kSectionStart) {
      EXPECT_EQ(a.section.dir_check, b.section.dir_check);
      EXPECT_EQ(a.section.state, b.section.state);
    }
    if (a.kind != ItemKind::kEntry) continue;
    EXPECT_EQ(a.entry.path, b.entry.path);
    EXPECT_EQ(a.entry.type, b.entry.type);
    EXPECT_EQ(a.entry.state, b.entry.state);
    EXPECT_EQ(a.entry.size, b.entry.size);
    EXPECT_EQ(a.entry.mode, b.entry.mode);
    EXPECT_EQ(a.entry.mtime_ns, b.entry.mtime_ns);
    EXPECT_EQ(a.entry.rdev, b.entry.rdev);
    EXPECT_EQ(a.entry.link_target, b.entry.link_target);
    EXPECT_EQ(a.entry.digest, b.entry.digest);
    EXPECT_EQ(a.entry.cached, b.entry.cached);
    EXPECT_EQ(a.entry.corrupt, b.entry.corrupt);
    EXPECT_EQ(a.entry.error, b.entry.error);
  }
}

TEST(ManifestTest, EveryTruncationIsAnErrorNeverCounts) {
  const std::string bytes = Encode(Sample(), Params());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    auto decoded = Decode(bytes.substr(0, cut), Params());
    EXPECT_FALSE(decoded) << "truncated at " << cut << " was accepted";
  }
}

TEST(ManifestTest, CorruptionIsDetected) {
  const std::string bytes = Encode(Sample(), Params());
  int accepted = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x5a;
    if (Decode(bad, Params())) ++accepted;
  }
  EXPECT_EQ(accepted, 0);
}

TEST(ManifestTest, WrongVersionOrParametersAreRefused) {
  std::string bytes = Encode(Sample(), Params());
  std::string future = bytes;
  future[8] = 9;
  auto r = Decode(future, Params());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("manifest version 9"), std::string::npos);

  ManifestParams other = Params();
  other.hash = HashAlgorithm::kSha256;
  EXPECT_FALSE(Decode(bytes, other));
}

TEST(ManifestTest, RemoteFailureRecordIsAnError) {
  class Failing final : public EntryStream {
   public:
    Result<const Item*> Next() override {
      if (first_) {
        first_ = false;
        return &start_;
      }
      return Fail(Cancelled("verification cancelled"));
    }
    Item start_ = SectionStart("/etc");
    bool first_ = true;
  } failing;
  int fd = memfd_create("manifest", MFD_CLOEXEC);
  ManifestParams p = Params();
  EXPECT_FALSE(WriteManifest(failing, p, fd));
  const std::string bytes = ReadBack(fd);
  close(fd);
  auto r = Decode(bytes, p);
  ASSERT_FALSE(r);
  EXPECT_NE(
      r.error().message.find("remote side failed: verification cancelled"),
      std::string::npos);
}

}  // namespace
}  // namespace sms::core
