#include "core/scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

#include "core/io_ring_probe.h"
#include "core/manifest.h"
#include "core/marcher.h"
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

// What a scanner streamed, read to its end.
struct Scanned {
  std::vector<Entry> entries;
  std::vector<Section> sections;  // the kSectionStart items
  size_t section_ends = 0;
  uint64_t bytes_read = 0;
  std::vector<std::string> warnings;
  std::optional<Error> error;  // what ended the stream, if not its end
};

Scanned Drain(Scanner& scanner) {
  Scanned out;
  for (;;) {
    auto item = scanner.Next();
    if (!item) {
      out.error = item.error();
      break;
    }
    if (*item == nullptr) break;
    switch ((*item)->kind) {
      case ItemKind::kEntry:
        out.entries.push_back((*item)->entry);
        break;
      case ItemKind::kSectionStart:
        out.sections.push_back((*item)->section);
        break;
      case ItemKind::kSectionEnd:
        ++out.section_ends;
        break;
    }
  }
  out.bytes_read = scanner.progress().bytes_read.load();
  out.warnings = scanner.TakeWarnings();
  return out;
}

// A whole scan of `root` with 3 workers (unless `options` says), which must
// end without an error.
Scanned ScanAll(FileSystem& fs, Clock& clock, const std::string& root,
                std::vector<std::string> dirs = {"/"},
                ScanOptions options = {}) {
  options.threads = options.threads ? options.threads : 3;
  Scanner scanner(fs, clock, root, std::move(dirs), options);
  Scanned out = Drain(scanner);
  EXPECT_FALSE(out.error) << out.error->message;
  return out;
}

// The entries of a whole scan (sections dropped).
std::vector<Entry> Scan(FileSystem& fs, const std::string& root,
                        std::vector<std::string> dirs = {"/"},
                        ScanOptions options = {}) {
  return ScanAll(fs, SystemClock(), root, std::move(dirs), std::move(options))
      .entries;
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

// Linux 5.1-5.5 (a ring without our operations): the workers use plain
// calls and every entry is the same.
TEST(ScannerTest, AKernelWithoutTheRingsOperationsGivesTheSameEntries) {
  TempDir t;
  for (int i = 0; i < 300; ++i) {
    WriteFile(t.Join("d" + std::to_string(i % 3) + "/f" + std::to_string(i)),
              std::string(static_cast<size_t>(i * 97 % 40000), 'x'));
  }
  MakeSymlink("d0", t.Join("link"));
  auto old_kernel = NewPosixFileSystem(
      [](const io_uring_probe*) { return RingSupportsOurOps(nullptr); });
  const uint64_t before = RingSubmissions();
  auto plain = Scan(*old_kernel, t.path());
  EXPECT_EQ(RingSubmissions(), before);
  auto ring = Scan(PosixFileSystem(), t.path());
  ASSERT_EQ(plain.size(), 304u);
  ASSERT_EQ(plain.size(), ring.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(plain[i].path, ring[i].path);
    EXPECT_EQ(plain[i].digest, ring[i].digest) << plain[i].path;
    EXPECT_EQ(plain[i].state, EntryState::kOk) << plain[i].path;
  }
}

// A chain `depth` directories deep under `root`, each level holding
// directory "d" and file "f" (whose content is its level).
void MakeDeepChain(const std::string& root, int depth) {
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  for (int level = 0; level < depth; ++level) {
    int f = openat(fd, "f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(f, 0);
    const std::string content = std::to_string(level);
    ASSERT_EQ(write(f, content.data(), content.size()),
              static_cast<ssize_t>(content.size()));
    close(f);
    ASSERT_EQ(mkdirat(fd, "d", 0755), 0);
    int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
    close(fd);
    ASSERT_GE(next, 0);
    fd = next;
  }
  close(fd);
}

// Lowers the soft limit of open descriptors for a scope.
class FdLimit {
 public:
  explicit FdLimit(rlim_t soft) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~FdLimit() { setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

// Issue 11.6: a tree far deeper than the descriptors a process may hold is
// walked whole; the walker keeps a bounded number of directories open.
TEST(ScannerTest, ATreeDeeperThanTheDescriptorLimitIsWalkedWhole) {
  TempDir t;
  constexpr int kDepth = 1500;
  MakeDeepChain(t.path(), kDepth);
  std::vector<Entry> entries;
  {
    FdLimit limit(400);
    entries = Scan(PosixFileSystem(), t.path());
  }
  ASSERT_EQ(entries.size(), 2u * kDepth);
  for (size_t i = 1; i < entries.size(); ++i) {
    ASSERT_LT(ComparePaths(entries[i - 1].path, entries[i].path), 0) << i;
  }
  std::string prefix;
  for (int level = 0; level < kDepth; ++level) {
    const Entry& f = Find(entries, prefix + "f");
    ASSERT_EQ(f.state, EntryState::kOk) << level << ": " << f.error;
    ASSERT_EQ(f.size, std::to_string(level).size()) << level;
    ASSERT_EQ(Find(entries, prefix + "d").state, EntryState::kOk) << level;
    prefix += "d/";
  }
}

// A file system whose ".." leads elsewhere once `trigger` is set: as if a
// released level was moved while the walk was below it.
class MovingParents final : public FileSystem {
 public:
  explicit MovingParents(std::string elsewhere)
      : elsewhere_(std::move(elsewhere)) {}
  bool replace_root = false;  // also the root path leads elsewhere

  Result<int> OpenRoot(const std::string& path) override {
    if (replace_root && opened_root_) return real_.OpenRoot(elsewhere_);
    opened_root_ = true;
    return real_.OpenRoot(path);
  }
  Result<int> OpenDirAt(int dir, const char* name) override {
    if (std::string_view(name) == "..") return real_.OpenRoot(elsewhere_);
    return real_.OpenDirAt(dir, name);
  }
  Result<size_t> ListSome(int dir, std::vector<DirEntryName>& out) override {
    return real_.ListSome(dir, out);
  }
  Result<StatInfo> StatAt(int dir, const char* name) override {
    return real_.StatAt(dir, name);
  }
  Result<std::string> ReadLinkAt(int dir, const char* name) override {
    return real_.ReadLinkAt(dir, name);
  }
  Result<int> OpenFileAt(int dir, const char* name) override {
    return real_.OpenFileAt(dir, name);
  }
  Result<StatInfo> Stat(int handle) override { return real_.Stat(handle); }
  Result<size_t> Read(int handle, void* buffer, size_t size) override {
    return real_.Read(handle, buffer, size);
  }
  void AdviseSequential(int handle) override { real_.AdviseSequential(handle); }
  void Close(int handle) override { real_.Close(handle); }
  Result<int> CreateTempFile(const std::string& dir) override {
    return real_.CreateTempFile(dir);
  }
  Status WriteAll(int handle, const void* data, size_t size) override {
    return real_.WriteAll(handle, data, size);
  }
  Result<size_t> ReadAt(int handle, void* buffer, size_t size,
                        uint64_t offset) override {
    return real_.ReadAt(handle, buffer, size, offset);
  }

 private:
  FileSystem& real_ = PosixFileSystem();
  const std::string elsewhere_;
  std::atomic<bool> opened_root_{false};
};

TEST(ScannerTest, AReleasedLevelIsReopenedByPathWhenDotDotIsElsewhere) {
  TempDir t;
  TempDir other;
  MakeDeepChain(t.path(), 200);
  MovingParents fs(other.path());
  auto entries = Scan(fs, t.path());
  ASSERT_EQ(entries.size(), 400u);
  for (const auto& e : entries) {
    ASSERT_EQ(e.state, EntryState::kOk) << e.path << ": " << e.error;
  }
}

TEST(ScannerTest, AReleasedLevelThatWasReplacedIsAnErrorNamingIt) {
  TempDir t;
  TempDir other;
  MakeDeepChain(t.path(), 200);
  MakeDeepChain(other.path(), 200);  // the same names, other inodes
  MovingParents fs(other.path());
  fs.replace_root = true;
  auto entries = Scan(fs, t.path());
  ASSERT_EQ(entries.size(), 400u);
  // The 64 deepest levels (137..200) were open all along; level 136 is the
  // first reopened: from there up, files are errors naming their level.
  std::string deep;
  for (int i = 0; i < 200 - 64; ++i) deep += "d/";
  const Entry& open_level = Find(entries, deep + "d/f");
  EXPECT_EQ(open_level.state, EntryState::kOk) << open_level.error;
  const Entry& lost = Find(entries, deep + "f");
  EXPECT_EQ(lost.state, EntryState::kError);
  EXPECT_THAT(lost.error, HasSubstr("reopening directory " +
                                    deep.substr(0, deep.size() - 1) + ": "));
  EXPECT_THAT(lost.error, HasSubstr("moved or replaced during the walk"));
  EXPECT_EQ(Find(entries, "f").state, EntryState::kError);
}

// ---- faults, with and without io_uring (issue 17) --------------------------

// True when this kernel gives the POSIX file system a ring (it may be
// refused: seccomp, kernel.io_uring_disabled, kernels before 5.6).
bool RingWorks() {
  static const bool works = [] {
    TempDir t;
    WriteFile(t.Join("f"), "x");
    bool ok = false;
    std::thread([&] {  // a thread of its own: each thread has its own ring
      FileSystem& fs = PosixFileSystem();
      auto dir = fs.OpenRoot(t.path());
      auto fd = fs.OpenFileAt(*dir, "f");
      char c;
      ReadRequest read{*fd, &c, 1, size_t{0}};
      const uint64_t before = RingSubmissions();
      fs.ReadMany({&read, 1});
      ok = RingSubmissions() > before;
      fs.Close(*fd);
      fs.Close(*dir);
    })
        .join();
    return ok;
  }();
  return works;
}

// The scanner's fault tests run twice: the small files' batches (open, read,
// close) through plain system calls, and through io_uring. The faults are
// the same on both paths (testing::FaultyFileSystem); so must the entries be.
class ScannerFaultTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (ring()) {
      if (!RingWorks()) GTEST_SKIP() << "io_uring is not available here";
      fs_.BatchThroughRing();
    }
    submissions_ = RingSubmissions();
  }
  void TearDown() override {
    if (IsSkipped()) return;
    if (ring()) {
      EXPECT_GT(RingSubmissions(), submissions_) << "no batch used the ring";
    } else {
      EXPECT_EQ(RingSubmissions(), submissions_) << "a batch used the ring";
    }
  }
  bool ring() const { return GetParam(); }

  testing::FaultyFileSystem fs_;
  uint64_t submissions_ = 0;
};

TEST_P(ScannerFaultTest, SymlinksAreReadNotFollowedAndSpecialsNotOpened) {
  TempDir t;
  WriteFile(t.Join("file"), "content");
  MakeSymlink("file", t.Join("good"));
  MakeSymlink("/does/not/exist", t.Join("dangling"));
  MakeDirs(t.Join("dir"));
  MakeSymlink("dir", t.Join("dirlink"));
  ASSERT_EQ(mkfifo(t.Join("fifo").c_str(), 0600), 0);
  auto entries = Scan(fs_, t.path());
  EXPECT_THAT(Paths(entries), ElementsAre("dangling", "dir", "dirlink", "fifo",
                                          "file", "good"));
  EXPECT_EQ(Find(entries, "good").type, FileType::kSymlink);
  EXPECT_EQ(Find(entries, "good").link_target, "file");
  EXPECT_EQ(Find(entries, "dangling").link_target, "/does/not/exist");
  EXPECT_EQ(Find(entries, "dirlink").type, FileType::kSymlink);
  EXPECT_EQ(Find(entries, "fifo").type, FileType::kFifo);
  EXPECT_TRUE(Find(entries, "fifo").digest.empty());
}

TEST_P(ScannerFaultTest, AwkwardNamesAreCarriedExactly) {
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
  auto entries = Scan(fs_, t.path());
  for (const auto& n : names) EXPECT_EQ(Find(entries, n).size, n.size()) << n;
  EXPECT_GT(deep_file.size(), 4000u);
  EXPECT_EQ(Find(entries, deep_file).size, 2u);
}

// A file that cannot be opened (EACCES), or that vanished since the listing.
TEST_P(ScannerFaultTest, UnreadableFileIsAnErrorAndTheWalkGoesOn) {
  TempDir t;
  WriteFile(t.Join("a"), "1");
  WriteFile(t.Join("gone"), "2");
  WriteFile(t.Join("secret"), "3");
  WriteFile(t.Join("z"), "4");
  fs_.FailOpen("secret", EACCES);
  fs_.OnOpen("gone", [&] { ASSERT_EQ(unlink(t.Join("gone").c_str()), 0); });
  auto entries = Scan(fs_, t.path());
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(Find(entries, "secret").state, EntryState::kError);
  EXPECT_THAT(Find(entries, "secret").error, HasSubstr("Permission denied"));
  EXPECT_EQ(Find(entries, "gone").state, EntryState::kError);
  EXPECT_THAT(Find(entries, "gone").error, HasSubstr("No such file"));
  EXPECT_EQ(Find(entries, "z").state, EntryState::kOk);
}

TEST_P(ScannerFaultTest, UnreadableDirectoryIsAnErrorEntry) {
  TempDir t;
  WriteFile(t.Join("locked/inside"), "1");
  WriteFile(t.Join("open/inside"), "2");
  fs_.FailOpen("locked", EACCES);
  auto entries = Scan(fs_, t.path());
  EXPECT_THAT(Paths(entries), ElementsAre("locked", "open", "open/inside"));
  EXPECT_EQ(Find(entries, "locked").state, EntryState::kError);
}

TEST_P(ScannerFaultTest, FileGrowingWhileReadIsChangedNotDifferent) {
  TempDir t;
  WriteFile(t.Join("small.log"), "first line\n");
  WriteFile(t.Join("big.log"), std::string(3 << 20, 'b'));
  fs_.GrowWhileRead("small.log", t.Join("small.log"));
  fs_.GrowWhileRead("big.log", t.Join("big.log"));
  auto entries = Scan(fs_, t.path());
  EXPECT_EQ(Find(entries, "small.log").state, EntryState::kChanged);
  EXPECT_EQ(Find(entries, "big.log").state, EntryState::kChanged);
  EXPECT_TRUE(Find(entries, "big.log").digest.empty());
}

TEST_P(ScannerFaultTest, AFileReplacedBeforeItIsOpenedIsWhatIsThereNow) {
  TempDir t;
  WriteFile(t.Join("fifo"), "was a file");
  WriteFile(t.Join("link"), "was a file");
  WriteFile(t.Join("z"), "3");
  fs_.OnOpen("fifo", [&] {
    ASSERT_EQ(unlink(t.Join("fifo").c_str()), 0);
    ASSERT_EQ(mkfifo(t.Join("fifo").c_str(), 0600), 0);
  });
  fs_.OnOpen("link", [&] {
    ASSERT_EQ(unlink(t.Join("link").c_str()), 0);
    MakeSymlink("z", t.Join("link"));
  });
  auto entries = Scan(fs_, t.path());  // must not block on the FIFO
  ASSERT_EQ(entries.size(), 3u);
  const Entry& fifo = Find(entries, "fifo");
  EXPECT_EQ(fifo.type, FileType::kFifo);
  EXPECT_EQ(fifo.state, EntryState::kOk) << fifo.error;
  EXPECT_TRUE(fifo.digest.empty());
  const Entry& link = Find(entries, "link");
  EXPECT_EQ(link.type, FileType::kSymlink);
  EXPECT_EQ(link.state, EntryState::kOk) << link.error;
  EXPECT_EQ(link.link_target, "z");
  EXPECT_EQ(Find(entries, "z").state, EntryState::kOk);
}

// Truncated, or replaced by a rename over it, while it is read: never a
// false digest. A large file changed while it is read is `changed` (the
// group's first read finds it fresh and hands it to Hash(), whose read, of
// the second opening, the change hits); a file changed between two
// openings is read again and described as it is now.
TEST_P(ScannerFaultTest, AFileTruncatedWhileReadIsChanged) {
  TempDir t;
  WriteFile(t.Join("big"), std::string(3 << 20, 'b'));
  WriteFile(t.Join("small"), std::string(1000, 's'));
  fs_.AfterFirstRead(
      "big", [&] { ASSERT_EQ(truncate(t.Join("big").c_str(), 10), 0); }, 2);
  fs_.AfterFirstRead(
      "small", [&] { ASSERT_EQ(truncate(t.Join("small").c_str(), 0), 0); });
  auto entries = Scan(fs_, t.path());
  const Entry& big = Find(entries, "big");
  EXPECT_EQ(big.state, EntryState::kChanged);
  EXPECT_TRUE(big.digest.empty());
  const Entry& small = Find(entries, "small");
  EXPECT_EQ(small.state, EntryState::kOk) << small.error;
  EXPECT_EQ(small.size, 0u);
  EXPECT_FALSE(small.digest.empty());
}

TEST_P(ScannerFaultTest, AFileReplacedWhileReadIsChanged) {
  TempDir t;
  WriteFile(t.Join("big"), std::string(3 << 20, 'b'));
  WriteFile(t.Join("small"), std::string(1000, 's'));
  auto replace = [&](const std::string& name) {
    WriteFile(t.Join(name + ".new"), "replacement");
    ASSERT_EQ(rename(t.Join(name + ".new").c_str(), t.Join(name).c_str()), 0);
  };
  // The old inode, still open, keeps its bytes and size: only its ctime
  // (the kernel stamps an unlink) tells that it left the tree.
  fs_.AfterFirstRead(
      "big", [&] { replace("big"); }, 2);
  fs_.AfterFirstRead("small", [&] { replace("small"); });
  auto entries = Scan(fs_, t.path());
  const Entry& big = Find(entries, "big");
  EXPECT_EQ(big.state, EntryState::kChanged);
  EXPECT_TRUE(big.digest.empty());
  const Entry& small = Find(entries, "small");
  EXPECT_EQ(small.state, EntryState::kOk) << small.error;
  EXPECT_EQ(small.size, std::string("replacement").size());
}

// A directory that cannot be opened still says what it is: its mode,
// owner and mtime come from an lstat, never zeros a reader would take for
// the directory's own.
TEST_P(ScannerFaultTest, ADirectoryThatCannotBeOpenedKeepsItsMetadata) {
  TempDir t;
  WriteFile(t.Join("locked/inside"), "1");
  WriteFile(t.Join("z"), "read");
  ASSERT_EQ(chmod(t.Join("locked").c_str(), 0751), 0);
  fs_.FailOpen("locked", EACCES);
  auto entries = Scan(fs_, t.path());
  const Entry& locked = Find(entries, "locked");
  EXPECT_EQ(locked.state, EntryState::kError);
  EXPECT_EQ(locked.type, FileType::kDirectory);
  EXPECT_EQ(locked.mode, 0751u);
  struct stat st;
  ASSERT_EQ(lstat(t.Join("locked").c_str(), &st), 0);
  EXPECT_EQ(locked.mtime_ns,
            st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  EXPECT_EQ(locked.uid, st.st_uid);
}

// A kernel pseudo file system mounted in the tree (proc, sysfs ...) is a
// directory that is compared but never entered: its files are views of the
// running kernel, and /proc/kmsg blocks a read forever. Other mounts (a
// tmpfs, a data disk) are walked like any directory, as rsync and find do
// by default.
TEST_P(ScannerFaultTest, APseudoFileSystemMountedInTheTreeIsNotEntered) {
  TempDir t;
  WriteFile(t.Join("proc/kmsg"), "");
  WriteFile(t.Join("proc/1/status"), "Name: init");
  WriteFile(t.Join("data/tmp/file"), "kept");
  WriteFile(t.Join("z"), "z");
  fs_.MountAt("proc", 0x9FA0);     // PROC_SUPER_MAGIC
  fs_.MountAt("tmp", 0x01021994);  // TMPFS_MAGIC
  Scanned out = ScanAll(fs_, SystemClock(), t.path());
  EXPECT_THAT(Paths(out.entries),
              ElementsAre("data", "data/tmp", "data/tmp/file", "proc", "z"));
  const Entry& proc = Find(out.entries, "proc");
  EXPECT_EQ(proc.type, FileType::kDirectory);
  EXPECT_EQ(proc.state, EntryState::kOk) << proc.error;
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_THAT(out.warnings[0], HasSubstr("proc"));
  EXPECT_THAT(out.warnings[0], HasSubstr(t.Join("proc")));
}

INSTANTIATE_TEST_SUITE_P(PlainAndRing, ScannerFaultTest, ::testing::Bool(),
                         [](const auto& info) {
                           return std::string(info.param ? "io_uring"
                                                         : "plain_syscalls");
                         });

TEST(ScannerTest, HardLinksShareOneDigest) {
  TempDir t;
  WriteFile(t.Join("one"), std::string(100000, 'h'));
  ASSERT_EQ(link(t.Join("one").c_str(), t.Join("two").c_str()), 0);
  auto entries = Scan(PosixFileSystem(), t.path());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].digest, entries[1].digest);
  EXPECT_FALSE(entries[0].digest.empty());
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
  std::vector<std::pair<std::string, RootState>> sections;
  for (const Section& section :
       ScanAll(PosixFileSystem(), SystemClock(), t.path(), {"/etc", "/nope"})
           .sections) {
    sections.emplace_back(section.dir_check, section.state);
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
  auto scan =
      ScanAll(PosixFileSystem(), SystemClock(), t.path(), {"/"}, options);
  ASSERT_EQ(scan.entries.size(), 1u);
  EXPECT_TRUE(scan.entries[0].digest.empty());
  EXPECT_EQ(scan.entries[0].size, 1000u);
  EXPECT_EQ(scan.bytes_read, 0u);
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

// Issue 17: a small file whose ctime is older than the read's start by
// more than FileReader::kQuietNs is read with one fstat (the clock runs 10 s
// ahead, so files written by the test count as old).
Scanned ScanWith(FileSystem& fs, Clock& clock, const std::string& root) {
  return ScanAll(fs, clock, root);
}

TEST(ScannerOneStatTest, OldFilesTakeOneStatAndGiveTheSameDigests) {
  TempDir t;
  const std::vector<size_t> sizes = {0, 1, 1000, 32767, 32768, 32769, 300000};
  for (size_t i = 0; i < sizes.size(); ++i) {
    WriteFile(t.Join("f" + std::to_string(i)), std::string(sizes[i], 'a' + i));
  }
  AheadClock ahead(std::chrono::seconds(10));
  testing::FaultyFileSystem fast_fs;
  auto fast = ScanWith(fast_fs, ahead.clock, t.path());
  // One open and one fstat a file below a slot (32 KiB); two fstats from
  // a slot up; one for the root.
  EXPECT_EQ(fast_fs.files_opened(), sizes.size());
  EXPECT_EQ(fast_fs.handle_stats(), sizes.size() + 3 + 1);
  // Fresh files (the true clock) are read again with two fstats.
  testing::FaultyFileSystem slow_fs;
  auto slow = ScanWith(slow_fs, SystemClock(), t.path());
  EXPECT_EQ(slow_fs.files_opened(), 2 * sizes.size());
  EXPECT_EQ(slow_fs.handle_stats(), sizes.size() + 2 * sizes.size() + 1);
  ASSERT_EQ(fast.entries.size(), sizes.size());
  ASSERT_EQ(slow.entries.size(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(fast.entries[i].state, EntryState::kOk) << fast.entries[i].error;
    EXPECT_EQ(fast.entries[i].size, sizes[i]);
    EXPECT_FALSE(fast.entries[i].digest.empty());
    EXPECT_EQ(fast.entries[i].digest, slow.entries[i].digest) << i;
  }
  EXPECT_EQ(fast.bytes_read, slow.bytes_read);
}

// The one-stat path's faults, with and without io_uring.
class ScannerOneStatFaultTest : public ScannerFaultTest {};
INSTANTIATE_TEST_SUITE_P(PlainAndRing, ScannerOneStatFaultTest,
                         ::testing::Bool(), [](const auto& info) {
                           return std::string(info.param ? "io_uring"
                                                         : "plain_syscalls");
                         });

TEST_P(ScannerOneStatFaultTest, AnOldFileGrowingWhileReadIsStillChanged) {
  TempDir t;
  WriteFile(t.Join("small.log"), "first line\n");
  WriteFile(t.Join("big.log"), std::string(3 << 20, 'b'));
  AheadClock ahead(std::chrono::seconds(10));
  fs_.GrowWhileRead("small.log", t.Join("small.log"));
  fs_.GrowWhileRead("big.log", t.Join("big.log"));
  auto scan = ScanWith(fs_, ahead.clock, t.path());
  // Read whole in one go: the fstat after shows another size.
  EXPECT_EQ(Find(scan.entries, "small.log").state, EntryState::kChanged);
  // Past the slot: the append came before the fstat that vouches for the
  // head (the clock, 10 s ahead, cannot see it as recent): the rest is read
  // against that fstat, so the digest is the grown file's, never a torn one.
  const Entry& big = Find(scan.entries, "big.log");
  ASSERT_EQ(big.state, EntryState::kOk);
  testing::FaultyFileSystem plain;
  auto again = ScanWith(plain, ahead.clock, t.path());
  EXPECT_EQ(big.digest, Find(again.entries, "big.log").digest);
  EXPECT_EQ(big.size, (3u << 20) + 9);
}

// With the true clock, a file changed in the last kQuietNs is read as
// before: fstat before and after.
TEST_P(ScannerOneStatFaultTest, AFreshFileGrowingWhileReadIsChanged) {
  TempDir t;
  WriteFile(t.Join("small.log"), "first line\n");
  WriteFile(t.Join("big.log"), std::string(3 << 20, 'b'));
  fs_.GrowWhileRead("small.log", t.Join("small.log"));
  fs_.GrowWhileRead("big.log", t.Join("big.log"));
  auto scan = ScanWith(fs_, SystemClock(), t.path());
  EXPECT_EQ(Find(scan.entries, "small.log").state, EntryState::kChanged);
  EXPECT_EQ(Find(scan.entries, "big.log").state, EntryState::kChanged);
}

TEST(ScannerOneStatTest, OldHardLinksAreReadOnce) {
  TempDir t;
  WriteFile(t.Join("one"), std::string(100, 'h'));
  ASSERT_EQ(link(t.Join("one").c_str(), t.Join("two").c_str()), 0);
  AheadClock ahead(std::chrono::seconds(10));
  testing::FaultyFileSystem fs;
  auto scan = ScanWith(fs, ahead.clock, t.path());
  ASSERT_EQ(scan.entries.size(), 2u);
  EXPECT_EQ(scan.entries[0].digest, scan.entries[1].digest);
  EXPECT_EQ(scan.bytes_read, 100u);
}

TEST_P(ScannerOneStatFaultTest, AnOldUnreadableFileIsAnError) {
  TempDir t;
  WriteFile(t.Join("a"), "1");
  WriteFile(t.Join("secret"), "2");
  AheadClock ahead(std::chrono::seconds(10));
  fs_.FailOpen("secret", EACCES);
  auto scan = ScanWith(fs_, ahead.clock, t.path());
  EXPECT_EQ(Find(scan.entries, "secret").state, EntryState::kError);
  EXPECT_THAT(Find(scan.entries, "secret").error,
              HasSubstr("Permission denied"));
  EXPECT_EQ(Find(scan.entries, "a").state, EntryState::kOk);
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

// A tree `t`, and its hash cache file `cache` in `c`; scans run with the
// clock 10 s ahead (files written by the test count as old) unless told.
class ScannerCacheTest : public ::testing::Test {
 protected:
  // `files` small files in four directories of `t`.
  void WriteTree(int files) {
    for (int i = 0; i < files; ++i) {
      WriteFile(t.Join("d" + std::to_string(i % 4) + "/f" + std::to_string(i)),
                "content " + std::to_string(i));
    }
  }
  // A whole scan of `t` with `cache_file` (default `cache`).
  Scanned ScanCached(FileSystem& fs, Clock& clock, ScanOptions options,
                     const std::string& cache_file) {
    options.cache_path = cache_file;
    return ScanAll(fs, clock, t.path(), {"/"}, std::move(options));
  }
  Scanned ScanCached(FileSystem& fs, Clock& clock,
                     ScanOptions options = NoRandomRereads()) {
    return ScanCached(fs, clock, std::move(options), cache);
  }
  Scanned ScanCached(FileSystem& fs, ScanOptions options = NoRandomRereads()) {
    return ScanCached(fs, ahead.clock, std::move(options), cache);
  }
  Scanned ScanCached(ScanOptions options = NoRandomRereads()) {
    return ScanCached(PosixFileSystem(), std::move(options));
  }

  TempDir t, c;
  AheadClock ahead{std::chrono::seconds(10)};
  const std::string cache = c.Join("s.smscache");
};

TEST_F(ScannerCacheTest, ASecondScanReusesEveryDigestAndOpensNoFile) {
  WriteTree(200);
  WriteFile(t.Join("big"), std::string(3 << 20, 'b'));
  testing::FaultyFileSystem first_fs;
  auto first = ScanCached(first_fs);
  EXPECT_EQ(CountCached(first.entries), 0);
  EXPECT_EQ(first_fs.files_opened(), 201u);
  EXPECT_TRUE(first.warnings.empty());

  testing::FaultyFileSystem second_fs;
  auto second = ScanCached(second_fs);
  EXPECT_EQ(CountCached(second.entries), 201);
  EXPECT_EQ(second_fs.files_opened(), 0u);
  ASSERT_EQ(first.entries.size(), second.entries.size());
  for (size_t i = 0; i < first.entries.size(); ++i) {
    EXPECT_EQ(first.entries[i].path, second.entries[i].path);
    EXPECT_EQ(first.entries[i].digest, second.entries[i].digest) << i;
    EXPECT_EQ(first.entries[i].size, second.entries[i].size);
  }
}

TEST_F(ScannerCacheTest, ContentChangedWithTheMtimeRestoredIsReadAgain) {
  WriteTree(20);
  auto first = ScanCached();
  // Same size, same mtime (WriteFile sets it): `touch -r` after an edit.
  WriteFile(t.Join("d1/f5"), "CONTENT 5");
  auto second = ScanCached();
  EXPECT_EQ(CountCached(second.entries), 19);
  EXPECT_FALSE(Find(second.entries, "d1/f5").cached);
  EXPECT_FALSE(Find(first.entries, "d1/f5").digest ==
               Find(second.entries, "d1/f5").digest);
}

TEST_F(ScannerCacheTest, AFileReplacedBySameSizeAndMtimeIsReadAgain) {
  WriteTree(20);
  auto first = ScanCached();
  // Another file with the same size and mtime renamed over it: a new inode.
  WriteFile(t.Join("replacement"), "CONTENT 7");
  ASSERT_EQ(rename(t.Join("replacement").c_str(), t.Join("d3/f7").c_str()), 0);
  auto second = ScanCached();
  EXPECT_FALSE(Find(second.entries, "d3/f7").cached);
  EXPECT_FALSE(Find(first.entries, "d3/f7").digest ==
               Find(second.entries, "d3/f7").digest);
  EXPECT_EQ(CountCached(second.entries), 19);
}

TEST_F(ScannerCacheTest, ASameSecondRewriteOnA1SecondFileSystemIsReadAgain) {
  WriteFile(t.Join("f"), "version 1");
  // Timestamps in whole seconds, and the check right after the write: the
  // rewrite below keeps size, mtime and (within the second) ctime.
  testing::FaultyFileSystem fs;
  fs.CoarseTimestamps();
  auto first = ScanCached(fs, SystemClock());
  WriteFile(t.Join("f"), "version 2");
  auto second = ScanCached(fs, SystemClock());
  EXPECT_FALSE(Find(second.entries, "f").cached);
  EXPECT_FALSE(Find(first.entries, "f").digest ==
               Find(second.entries, "f").digest);
  // Long after its write, the same file's digest is trusted.
  ScanCached(fs);
  auto later = ScanCached(fs);
  EXPECT_TRUE(Find(later.entries, "f").cached);
}

TEST_F(ScannerCacheTest, AReReadThatDisagreesUnderUnchangedMetadataIsCorrupt) {
  WriteTree(20);
  ScanCached();
  testing::FaultyFileSystem decayed;
  decayed.CorruptReads("f3");
  ScanOptions all;
  all.cache_policy.rehash_fraction = 1;
  auto second = ScanCached(decayed, all);
  EXPECT_EQ(CountCached(second.entries), 0);
  EXPECT_EQ(decayed.files_opened(), 20u);
  for (const auto& e : second.entries) {
    EXPECT_EQ(e.corrupt, e.path == "d3/f3") << e.path;
  }
  // The corrupt file is left out of the new cache: read again next time.
  auto third = ScanCached();
  EXPECT_EQ(CountCached(third.entries), 19);
  EXPECT_FALSE(Find(third.entries, "d3/f3").cached);
  EXPECT_FALSE(Find(third.entries, "d3/f3").corrupt);
}

TEST_F(ScannerCacheTest, OldDigestsAreReadAgain) {
  WriteTree(10);
  ScanCached();
  ahead.clock.Advance(std::chrono::hours(24 * 31));
  auto aged = ScanCached();
  EXPECT_EQ(CountCached(aged.entries), 0);
  auto fresh = ScanCached();
  EXPECT_EQ(CountCached(fresh.entries), 10);
}

TEST_F(ScannerCacheTest, UnstableInodesAreCachedWithoutTheInode) {
  WriteTree(10);
  AheadClock later(std::chrono::seconds(120));
  testing::FaultyFileSystem fuse;
  fuse.UnstableInodes();
  ScanCached(fuse, later.clock);
  auto second = ScanCached(fuse, later.clock);
  EXPECT_EQ(CountCached(second.entries), 10);
  // Their timestamps come from a server's clock: digests taken less than
  // the network slack after the last change are not trusted.
  const std::string other = c.Join("other.smscache");
  ScanCached(fuse, ahead.clock, NoRandomRereads(), other);
  EXPECT_EQ(
      CountCached(
          ScanCached(fuse, ahead.clock, NoRandomRereads(), other).entries),
      0);
}

TEST_F(ScannerCacheTest,
       ACacheOfAnotherAlgorithmOrTruncatedIsIgnoredWithAWarning) {
  WriteTree(10);
  ScanCached();
  ScanOptions sha = NoRandomRereads();
  sha.hash = HashAlgorithm::kSha256;
  auto other = ScanCached(sha);
  EXPECT_EQ(CountCached(other.entries), 0);
  ASSERT_EQ(other.warnings.size(), 1u);
  EXPECT_THAT(other.warnings[0], HasSubstr("written for xxh128"));
  EXPECT_EQ(Find(other.entries, "d0/f0").digest.size, 32);
  // The sha256 check wrote its own: the next one reuses it.
  auto again = ScanCached(sha);
  EXPECT_EQ(CountCached(again.entries), 10);

  const std::string bytes = testing::ReadFile(cache);
  WriteFile(cache, bytes.substr(0, bytes.size() / 2));
  auto truncated = ScanCached(sha);
  EXPECT_EQ(CountCached(truncated.entries), 0);
  ASSERT_EQ(truncated.warnings.size(), 1u);
  EXPECT_THAT(truncated.warnings[0], HasSubstr("truncated or corrupted"));
  for (const auto& e : truncated.entries) {
    if (!e.is_dir()) {
      EXPECT_EQ(e.digest, Find(again.entries, e.path).digest);
    }
  }
}

TEST_F(ScannerCacheTest, ACancelledScanLeavesThePreviousCache) {
  WriteTree(600);
  ScanCached();
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

// ---- directories past the spill threshold (issue 14.4) ---------------------

// A directory `big` of `n` entries with awkward names (high bytes, a newline,
// names that share long prefixes), files of a few sizes, two hard links of
// one inode, symlinks, an empty directory and a subdirectory that is itself
// past a small threshold.
void WriteBigDirectory(const TempDir& t, int n) {
  for (int i = 0; i < n; ++i) {
    std::string name = "f" + std::to_string(i * 7919 % 100003);
    if (i % 11 == 0) name += "\xff\xfe";
    if (i % 17 == 0) name = "same-long-prefix-" + name;
    if (i % 97 == 0) name += "\nline";
    WriteFile(t.Join("big/" + name), std::string(size_t(i * 37 % 5000), 'a'));
  }
  WriteFile(t.Join("big/linked"), std::string(70000, 'l'));
  ASSERT_EQ(link(t.Join("big/linked").c_str(), t.Join("big/linked2").c_str()),
            0);
  MakeSymlink("linked", t.Join("big/sym"));
  MakeSymlink("/nowhere", t.Join("big/dangling"));
  MakeDirs(t.Join("big/empty"));
  for (int i = 0; i < 40; ++i) {
    WriteFile(t.Join("big/sub/g" + std::to_string(i)), std::to_string(i));
  }
  WriteFile(t.Join("after-big"), "x");
  WriteFile(t.Join("big-after"), "y");
}

ScanOptions Spilling(const TempDir& spill, size_t threshold) {
  ScanOptions o;
  o.spill_threshold = threshold;
  o.spill_dir = spill.path();
  return o;
}

void ExpectSameEntries(const std::vector<Entry>& a,
                       const std::vector<Entry>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].path);
    ASSERT_EQ(a[i].path, b[i].path);
    EXPECT_EQ(a[i].type, b[i].type);
    EXPECT_EQ(a[i].state, b[i].state) << a[i].error << " | " << b[i].error;
    EXPECT_EQ(a[i].size, b[i].size);
    EXPECT_EQ(a[i].mode, b[i].mode);
    EXPECT_EQ(a[i].mtime_ns, b[i].mtime_ns);
    EXPECT_EQ(a[i].ino, b[i].ino);
    EXPECT_EQ(a[i].link_target, b[i].link_target);
    EXPECT_EQ(a[i].digest, b[i].digest);
    EXPECT_EQ(a[i].error, b[i].error);
  }
}

TEST(ScannerSpillTest, ADirectoryPastTheThresholdIsWalkedTheSame) {
  TempDir t, spill;
  WriteBigDirectory(t, 600);
  testing::FaultyFileSystem in_memory_fs, spilling_fs;
  auto in_memory = ScanAll(in_memory_fs, SystemClock(), t.path());
  EXPECT_EQ(in_memory_fs.temp_files_created(), 0u);
  for (size_t threshold : {1, 7, 100}) {
    SCOPED_TRACE(threshold);
    testing::FaultyFileSystem fs;
    auto spilled =
        ScanAll(fs, SystemClock(), t.path(), {"/"}, Spilling(spill, threshold));
    // Each directory past the threshold (the root has 3 entries, big/ 606,
    // big/sub/ 40) is sorted through a temp file of its own.
    EXPECT_EQ(fs.temp_files_created(),
              (threshold < 3 ? 1u : 0u) + 1u + (threshold < 40 ? 1u : 0u));
    ExpectSameEntries(in_memory.entries, spilled.entries);
    EXPECT_EQ(spilled.section_ends, 1u);
  }
  EXPECT_EQ(Find(in_memory.entries, "big/linked").digest,
            Find(in_memory.entries, "big/linked2").digest);
  EXPECT_EQ(in_memory.entries.size(), 600u + 5 + 1 + 40 + 2 + 1);
  DIR* d = opendir(spill.path().c_str());
  int names = 0;
  while (dirent* e = readdir(d)) names += e->d_name[0] != '.' ? 1 : 0;
  closedir(d);
  EXPECT_EQ(names, 0);
}

// The target's side is the manifest stream: its bytes do not depend on
// whether a directory was spilled.
TEST(ScannerSpillTest, TheManifestIsByteIdenticalWithAndWithoutSpilling) {
  TempDir t, spill;
  WriteBigDirectory(t, 600);
  auto manifest = [&](ScanOptions options) {
    options.threads = 3;
    Scanner scanner(PosixFileSystem(), SystemClock(), t.path(), {"/"}, options);
    ManifestParams params{
        CompareMode::kHash, HashAlgorithm::kXxh128, kDefaultChunkSize, {"/"}};
    int fd = memfd_create("manifest", 0);
    EXPECT_GE(fd, 0);
    EXPECT_TRUE(WriteManifest(scanner, params, fd));
    std::string bytes;
    lseek(fd, 0, SEEK_SET);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) bytes.append(buf, n);
    close(fd);
    return bytes;
  };
  const std::string in_memory = manifest({});
  EXPECT_GT(in_memory.size(), 10000u);
  EXPECT_EQ(manifest(Spilling(spill, 7)), in_memory);
  EXPECT_EQ(manifest(Spilling(spill, 1)), in_memory);
}

// Exact counters when both sides are spilled, with differences, missing
// and extra entries on both sides of run boundaries.
TEST(ScannerSpillTest, CountersAreExactAcrossRunBoundaries) {
  TempDir src, dst, spill;
  constexpr int kFiles = 1000;
  int different = 0, missing = 0, extra = 0;
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "big/f" + std::to_string(i);
    const std::string content = "content " + std::to_string(i);
    WriteFile(src.Join(name), content);
    if (i % 53 == 0) {
      ++missing;
      continue;
    }
    if (i % 37 == 0) {
      ++different;
      WriteFile(dst.Join(name), "CONTENT " + std::to_string(i));
      continue;
    }
    WriteFile(dst.Join(name), content);
    if (i % 41 == 0) {  // sorts right after its neighbour
      ++extra;
      WriteFile(dst.Join(name + "x"), "extra");
    }
  }
  auto march = [&](size_t threshold) {
    ScanOptions o = Spilling(spill, threshold);
    o.threads = 2;
    Scanner source(PosixFileSystem(), SystemClock(), src.path(), {"/"}, o);
    Scanner target(PosixFileSystem(), SystemClock(), dst.path(), {"/"}, o);
    Marcher marcher(source, target, {"/"}, {.mode = CompareMode::kHash},
                    nullptr);
    auto results = marcher.Run();
    EXPECT_TRUE(results) << results.error().message;
    return results ? (*results)[0] : DirResult{};
  };
  for (size_t threshold :
       {kDefaultSpillThreshold, size_t{1}, size_t{16}, size_t{999}}) {
    SCOPED_TRACE(threshold);
    DirResult r = march(threshold);
    EXPECT_EQ(r.total, uint64_t{kFiles});
    EXPECT_EQ(r.different, uint64_t(different));
    EXPECT_EQ(r.target_miss, uint64_t(missing));
    EXPECT_EQ(r.target_more, uint64_t(extra));
    EXPECT_EQ(r.errors, 0u);
    EXPECT_EQ(r.changed, 0u);
  }
}

TEST(ScannerSpillTest, HardLinksAndChangesWhileReadAreKeptWhenSpilled) {
  TempDir t, spill;
  WriteBigDirectory(t, 100);
  WriteFile(t.Join("big/growing.log"), "first line\n");
  testing::FaultyFileSystem fs;
  fs.GrowWhileRead("growing.log", t.Join("big/growing.log"));
  auto scan = ScanAll(fs, SystemClock(), t.path(), {"/"}, Spilling(spill, 9));
  EXPECT_EQ(fs.temp_files_created(), 2u);
  EXPECT_EQ(Find(scan.entries, "big/growing.log").state, EntryState::kChanged);
  const Entry& one = Find(scan.entries, "big/linked");
  EXPECT_FALSE(one.digest.empty());
  EXPECT_EQ(one.digest, Find(scan.entries, "big/linked2").digest);
}

// A spill directory that cannot take the temp file ends the stream with an
// error naming the directory being listed and the spill directory: never a
// section with entries left out.
TEST(ScannerSpillTest, AnUnwritableSpillDirectoryEndsTheStreamNamingBoth) {
  TempDir t, spill;
  WriteBigDirectory(t, 100);
  testing::FaultyFileSystem fs;
  fs.FailTempFiles(EACCES);
  ScanOptions o = Spilling(spill, 50);
  o.threads = 2;
  Scanner scanner(fs, SystemClock(), t.path(), {"/"}, o);
  Scanned scan = Drain(scanner);
  ASSERT_TRUE(scan.error);
  EXPECT_THAT(scan.error->message, HasSubstr("directory " + t.Join("big") +
                                             ": more than 50 entries"));
  EXPECT_THAT(scan.error->message,
              HasSubstr("creating a temp file in " + spill.path() +
                        ": Permission denied"));
  EXPECT_EQ(scan.section_ends, 0u);
  for (const Entry& e : scan.entries) {
    EXPECT_FALSE(IsUnder(e.path, "big")) << e.path;
  }
}

TEST(ScannerSpillTest, AFullSpillDirectoryEndsTheStreamNamingBoth) {
  TempDir t, spill;
  WriteBigDirectory(t, 300);
  testing::FaultyFileSystem fs;
  fs.FailTempWritesAfter(0, ENOSPC);
  Scanner scanner(fs, SystemClock(), t.path(), {"/"}, Spilling(spill, 20));
  Scanned scan = Drain(scanner);
  ASSERT_TRUE(scan.error);
  EXPECT_THAT(scan.error->message, HasSubstr("directory " + t.Join("big")));
  EXPECT_THAT(scan.error->message,
              HasSubstr("temp file in " + spill.path() +
                        ": write: No space left on device"));
  EXPECT_EQ(scan.section_ends, 0u);
}

// A hash cache is not replaced by a stream that ended early.
TEST(ScannerSpillTest, AFailedSpillLeavesThePreviousHashCache) {
  TempDir t, c, spill;
  WriteBigDirectory(t, 60);
  ScanOptions o = Spilling(spill, 50);
  o.cache_path = c.Join("s.smscache");
  ScanAll(PosixFileSystem(), SystemClock(), t.path(), {"/"}, o);
  const std::string before = testing::ReadFile(o.cache_path);
  WriteFile(t.Join("big/new"), "new");
  testing::FaultyFileSystem fs;
  fs.FailTempFiles(ENOSPC);
  Scanner scanner(fs, SystemClock(), t.path(), {"/"}, o);
  EXPECT_TRUE(Drain(scanner).error);
  EXPECT_EQ(testing::ReadFile(o.cache_path), before);
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

// A listed path that no walk produces names nothing under the root: a list
// (or a re-check's details from the server) cannot make a side read beside
// or above it.
TEST(ScannerTest, ListedPathsOutsideTheRootAreNotRead) {
  TempDir outer;
  WriteFile(outer.Join("secret"), "not under the root");
  WriteFile(outer.Join("root/a/x"), "1");
  WriteFile(outer.Join("root/b"), "2");
  ScanOptions o;
  o.only_paths =
      std::make_shared<std::map<std::string, std::vector<std::string>>>(
          std::map<std::string, std::vector<std::string>>{
              {"/",
               {"../secret", "..", ".", "a/../b", "a/./x", "a//x", "./b",
                "b"}}});
  auto entries = Scan(PosixFileSystem(), outer.Join("root"), {"/"}, o);
  EXPECT_THAT(Paths(entries), ElementsAre("b"));
}

// A list written by hand may name files of a kernel pseudo file system
// (proc/kmsg, which blocks a read forever): they are not checked, as the
// walk never enters one, and a warning says why.
TEST(ScannerTest, ListedPathsUnderAPseudoFileSystemAreNotRead) {
  TempDir t;
  WriteFile(t.Join("proc/kmsg"), "");
  WriteFile(t.Join("proc/sys/x"), "");
  WriteFile(t.Join("data/f"), "1");
  testing::FaultyFileSystem fs;
  fs.MountAt("proc", 0x9FA0);
  ScanOptions o;
  o.only_paths =
      std::make_shared<std::map<std::string, std::vector<std::string>>>(
          std::map<std::string, std::vector<std::string>>{
              {"/", {"data/f", "proc", "proc/kmsg", "proc/sys/x"}}});
  o.threads = 2;
  Scanned out = ScanAll(fs, SystemClock(), t.path(), {"/"}, o);
  EXPECT_THAT(Paths(out.entries), ElementsAre("data/f", "proc"));
  ASSERT_EQ(out.warnings.size(), 1u);  // once a mount point
  EXPECT_THAT(out.warnings[0], HasSubstr(t.Join("proc") + ": a proc file"));
}

// A re-check of "! locked/" (a directory that could not be opened) must
// try to open it again: an lstat alone found a directory on both sides,
// and the re-check said CONSISTENT while it was still unreadable.
TEST(ScannerTest, AListedDirectoryThatCannotBeOpenedIsStillAnError) {
  TempDir t;
  WriteFile(t.Join("locked/inside"), "1");
  WriteFile(t.Join("open/inside"), "2");
  testing::FaultyFileSystem fs;
  fs.FailOpen("locked", EACCES);
  ScanOptions o;
  o.only_paths =
      std::make_shared<std::map<std::string, std::vector<std::string>>>(
          std::map<std::string, std::vector<std::string>>{
              {"/", {"locked", "open"}}});
  auto entries = Scan(fs, t.path(), {"/"}, o);
  ASSERT_THAT(Paths(entries), ElementsAre("locked", "open"));
  EXPECT_EQ(Find(entries, "locked").state, EntryState::kError);
  EXPECT_THAT(Find(entries, "locked").error, HasSubstr("Permission denied"));
  EXPECT_EQ(Find(entries, "locked").type, FileType::kDirectory);
  EXPECT_EQ(Find(entries, "open").state, EntryState::kOk);
}

}  // namespace
}  // namespace sms::core
