// The batch operations of the POSIX file system (io_uring, and the plain
// system calls it falls back to) behave exactly as the single ones.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/file_system.h"
#include "core/io_ring_probe.h"
#include "testing/temp_dir.h"

namespace sms::core {
namespace {

using ::sms::testing::MakeSymlink;
using ::sms::testing::TempDir;
using ::sms::testing::WriteFile;

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

// Runs `body` on a new thread (each thread has its own ring) with
// SMS_AGENT_IO_URING set to `uring`.
template <class F>
void OnThread(const char* uring, F&& body) {
  setenv("SMS_AGENT_IO_URING", uring, 1);
  std::thread t(std::forward<F>(body));
  t.join();
  unsetenv("SMS_AGENT_IO_URING");
}

class PosixBatchTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PosixBatchTest, OpenReadCloseManyAsTheSingleForms) {
  TempDir tmp;
  WriteFile(tmp.Join("a"), "alpha");
  WriteFile(tmp.Join("empty"), "");
  WriteFile(tmp.Join("big"), std::string(100000, 'x'));
  MakeSymlink("a", tmp.Join("link"));
  ASSERT_EQ(mkfifo(tmp.Join("fifo").c_str(), 0600), 0);
  OnThread(GetParam(), [&] {
    FileSystem& fs = PosixFileSystem();
    auto dir = fs.OpenRoot(tmp.path());
    ASSERT_TRUE(dir);
    const char* names[] = {"a", "missing", "link", "fifo", "empty", "big"};
    Result<int> fds[6];
    fs.OpenFilesAt(*dir, names, fds);
    ASSERT_TRUE(fds[0]);
    ASSERT_FALSE(fds[1]);
    EXPECT_NE(fds[1].error().message.find("open"), std::string::npos);
    EXPECT_NE(fds[1].error().message.find("No such file"), std::string::npos)
        << fds[1].error().message;
    EXPECT_FALSE(fds[2]) << "a symlink is never followed";
    ASSERT_TRUE(fds[3]) << "a FIFO opens without blocking";
    ASSERT_TRUE(fds[4]);
    ASSERT_TRUE(fds[5]);

    char a[16], empty[16], fifo[16];
    std::vector<char> big(200000);
    ReadRequest reads[] = {{*fds[0], a, sizeof a, size_t{0}},
                           {*fds[4], empty, sizeof empty, size_t{0}},
                           {*fds[5], big.data(), 65536, size_t{0}},
                           {*fds[3], fifo, sizeof fifo, size_t{0}}};
    fs.ReadMany(reads);
    ASSERT_TRUE(reads[0].result);
    EXPECT_EQ(std::string(a, *reads[0].result), "alpha");
    ASSERT_TRUE(reads[1].result);
    EXPECT_EQ(*reads[1].result, 0u);
    ASSERT_TRUE(reads[2].result);
    EXPECT_EQ(*reads[2].result, 65536u);
    // The position advanced as read(2) would: the rest follows.
    auto rest = fs.Read(*fds[5], big.data() + 65536, big.size() - 65536);
    ASSERT_TRUE(rest);
    EXPECT_EQ(*rest, 100000u - 65536u);
    // An empty FIFO with no writer reads as end of file.
    ASSERT_TRUE(reads[3].result) << reads[3].result.error().message;
    EXPECT_EQ(*reads[3].result, 0u);

    const int open[] = {*fds[0], *fds[3], *fds[4], *fds[5]};
    fs.CloseMany(open);
    for (int fd : open) EXPECT_FALSE(IsOpen(fd)) << fd;
    fs.Close(*dir);
  });
}

TEST_P(PosixBatchTest, BatchesLargerThanTheRing) {
  TempDir tmp;
  std::vector<std::string> names;
  for (int i = 0; i < 150; ++i) {
    names.push_back("f" + std::to_string(i));
    WriteFile(tmp.Join(names.back()), std::to_string(i));
  }
  OnThread(GetParam(), [&] {
    FileSystem& fs = PosixFileSystem();
    auto dir = fs.OpenRoot(tmp.path());
    ASSERT_TRUE(dir);
    std::vector<const char*> cnames;
    for (const auto& n : names) cnames.push_back(n.c_str());
    std::vector<Result<int>> fds(names.size());
    fs.OpenFilesAt(*dir, cnames, fds);
    std::vector<ReadRequest> reads;
    std::vector<std::string> bufs(names.size(), std::string(8, '\0'));
    std::vector<int> open;
    for (size_t i = 0; i < fds.size(); ++i) {
      ASSERT_TRUE(fds[i]) << names[i];
      open.push_back(*fds[i]);
      reads.push_back({*fds[i], bufs[i].data(), bufs[i].size(), size_t{0}});
    }
    fs.ReadMany(reads);
    for (size_t i = 0; i < reads.size(); ++i) {
      ASSERT_TRUE(reads[i].result);
      EXPECT_EQ(bufs[i].substr(0, *reads[i].result), std::to_string(i));
    }
    fs.CloseMany(open);
    for (int fd : open) EXPECT_FALSE(IsOpen(fd));
    fs.Close(*dir);
  });
}

INSTANTIATE_TEST_SUITE_P(RingAndPlain, PosixBatchTest,
                         ::testing::Values("1", "0"), [](const auto& info) {
                           return std::string(info.param[0] == '1'
                                                  ? "io_uring"
                                                  : "plain_syscalls");
                         });

// A probe as a kernel reports it: `count` operations, each supported.
std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> FakeProbe(
    std::initializer_list<int> supported) {
  const size_t bytes = sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op);
  auto* p = static_cast<io_uring_probe*>(calloc(1, bytes));
  for (int op : supported) {
    p->ops[op].op = static_cast<uint8_t>(op);
    p->ops[op].flags = IO_URING_OP_SUPPORTED;
    p->last_op = std::max<uint8_t>(p->last_op, static_cast<uint8_t>(op));
  }
  p->ops_len = static_cast<uint8_t>(p->last_op + 1);
  return {p, [](io_uring_probe* q) { free(q); }};
}

// The kernel's pseudo file systems are named; data file systems are not.
TEST(FsTraitsTest, PseudoFileSystemsAreKnownByTheirMagic) {
  EXPECT_EQ(TraitsOfMagic(0x9FA0).pseudo, "proc");
  EXPECT_EQ(TraitsOfMagic(0x62656572).pseudo, "sysfs");
  EXPECT_EQ(TraitsOfMagic(0x63677270).pseudo, "cgroup2");
  EXPECT_TRUE(TraitsOfMagic(0xEF53).pseudo.empty());      // ext4
  EXPECT_TRUE(TraitsOfMagic(0x01021994).pseudo.empty());  // tmpfs
  EXPECT_TRUE(TraitsOfMagic(0x6969).pseudo.empty());      // NFS
  // The real /proc, where there is one.
  const int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << "no /proc here";
  EXPECT_EQ(PosixFileSystem().Traits(fd).pseudo, "proc");
  close(fd);
}

TEST(RingProbeTest, TheRingNeedsOpenReadAndClose) {
  EXPECT_FALSE(RingSupportsOurOps(nullptr)) << "5.1-5.5: no probe at all";
  EXPECT_FALSE(RingSupportsOurOps(
      FakeProbe({IORING_OP_NOP, IORING_OP_READV, IORING_OP_FSYNC}).get()));
  EXPECT_FALSE(
      RingSupportsOurOps(FakeProbe({IORING_OP_OPENAT, IORING_OP_READ}).get()));
  EXPECT_TRUE(RingSupportsOurOps(
      FakeProbe({IORING_OP_OPENAT, IORING_OP_READ, IORING_OP_CLOSE}).get()));
}

// A kernel of 5.1-5.5 (a ring, but no probe and none of our operations):
// every batch call is answered by plain system calls, with the same results.
TEST(RingProbeTest, AKernelWithoutOurOpsGetsPlainCalls) {
  TempDir tmp;
  WriteFile(tmp.Join("a"), "alpha");
  MakeSymlink("a", tmp.Join("link"));
  auto old_kernel = NewPosixFileSystem(
      [](const io_uring_probe*) { return RingSupportsOurOps(nullptr); });
  std::thread([&] {
    FileSystem& fs = *old_kernel;
    const uint64_t before = RingSubmissions();
    auto dir = fs.OpenRoot(tmp.path());
    ASSERT_TRUE(dir);
    const char* names[] = {"a", "missing", "link"};
    Result<int> fds[3];
    fs.OpenFilesAt(*dir, names, fds);
    ASSERT_TRUE(fds[0]);
    EXPECT_FALSE(fds[1]);
    EXPECT_FALSE(fds[2]) << "a symlink is never followed";
    char a[16];
    ReadRequest reads[] = {{*fds[0], a, sizeof a, size_t{0}}};
    fs.ReadMany(reads);
    ASSERT_TRUE(reads[0].result);
    EXPECT_EQ(std::string(a, *reads[0].result), "alpha");
    const int open[] = {*fds[0]};
    fs.CloseMany(open);
    EXPECT_FALSE(IsOpen(*fds[0]));
    fs.Close(*dir);
    EXPECT_EQ(RingSubmissions(), before) << "no io_uring submission";
  }).join();
}

// "off", "false" and "no" turn the ring off like "0" (a user wrote
// SMS_AGENT_IO_URING=off and io_uring stayed on); "1" leaves it on.
TEST(RingProbeTest, OffWordsTurnTheRingOff) {
  TempDir tmp;
  WriteFile(tmp.Join("a"), "alpha");
  auto submissions = [&](const char* value) {
    uint64_t used = 0;
    OnThread(value, [&] {
      FileSystem& fs = PosixFileSystem();
      const uint64_t before = RingSubmissions();
      auto dir = fs.OpenRoot(tmp.path());
      ASSERT_TRUE(dir);
      const char* names[] = {"a"};
      Result<int> fds[1];
      fs.OpenFilesAt(*dir, names, fds);
      ASSERT_TRUE(fds[0]);
      const int open[] = {*fds[0]};
      fs.CloseMany(open);
      fs.Close(*dir);
      used = RingSubmissions() - before;
    });
    return used;
  };
  for (const char* off : {"0", "off", "OFF", "false", "no"}) {
    EXPECT_EQ(submissions(off), 0u) << off;
  }
}

// This kernel (6.x) has a probe that lists them: the ring is used.
TEST(RingProbeTest, ThisKernelUsesTheRing) {
  if (const char* env = std::getenv("SMS_AGENT_IO_URING");
      env != nullptr && std::string(env) == "0") {
    GTEST_SKIP() << "SMS_AGENT_IO_URING=0 turns the ring off";
  }
  io_uring_probe* probe = io_uring_get_probe();
  if (probe == nullptr) GTEST_SKIP() << "io_uring unavailable here";
  const bool supported = RingSupportsOurOps(probe);
  io_uring_free_probe(probe);
  if (!supported) GTEST_SKIP() << "this kernel lacks our operations";
  TempDir tmp;
  WriteFile(tmp.Join("a"), "alpha");
  std::thread([&] {
    FileSystem& fs = PosixFileSystem();
    const uint64_t before = RingSubmissions();
    auto dir = fs.OpenRoot(tmp.path());
    ASSERT_TRUE(dir);
    const char* names[] = {"a"};
    Result<int> fds[1];
    fs.OpenFilesAt(*dir, names, fds);
    ASSERT_TRUE(fds[0]);
    char a[16];
    ReadRequest reads[] = {{*fds[0], a, sizeof a, size_t{0}}};
    fs.ReadMany(reads);
    ASSERT_TRUE(reads[0].result);
    EXPECT_EQ(std::string(a, *reads[0].result), "alpha");
    fs.Close(*fds[0]);
    fs.Close(*dir);
    EXPECT_GT(RingSubmissions(), before);
  }).join();
}

}  // namespace
}  // namespace sms::core
