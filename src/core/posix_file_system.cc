#include <dirent.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "core/file_system.h"
#include "core/io_ring.h"
#include "core/io_ring_probe.h"

namespace sms::core {
namespace {

StatInfo FromStat(const struct stat& st) {
  StatInfo info;
  info.type = FileTypeFromMode(st.st_mode);
  info.size = static_cast<uint64_t>(st.st_size);
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  info.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec;
  info.dev = st.st_dev;
  info.ino = st.st_ino;
  info.nlink = st.st_nlink;
  info.rdev = st.st_rdev;
  return info;
}

FileType FromDType(unsigned char d_type) {
  switch (d_type) {
    case DT_REG:
      return FileType::kRegular;
    case DT_DIR:
      return FileType::kDirectory;
    case DT_LNK:
      return FileType::kSymlink;
    case DT_FIFO:
      return FileType::kFifo;
    case DT_SOCK:
      return FileType::kSocket;
    case DT_CHR:
      return FileType::kCharDevice;
    case DT_BLK:
      return FileType::kBlockDevice;
    default:
      return FileType::kUnknown;
  }
}

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer models file descriptors, and cannot see those the ring
// opens and closes: a number reused by another thread would look like a
// race. Under ThreadSanitizer only reads go through the ring.
constexpr bool kRingOpensAndCloses = false;
#else
constexpr bool kRingOpensAndCloses = true;
#endif

}  // namespace

// The kernel's pseudo file systems, by statfs(2) magic number.
constexpr std::pair<uint64_t, std::string_view> kPseudoFileSystems[] = {
    {0x9FA0, "proc"},
    {0x62656572, "sysfs"},
    {0x1CD1, "devpts"},
    {0x27E0EB, "cgroup"},
    {0x63677270, "cgroup2"},
    {0x64626720, "debugfs"},
    {0x74726163, "tracefs"},
    {0x73636673, "securityfs"},
    {0x6165676C, "pstore"},
    {0xCAFE4A11, "bpf"},
    {0x62656570, "configfs"},
    {0x65735543, "fusectl"},
    {0x19800202, "mqueue"},
    {0xDE5E81E4, "efivarfs"},
    {0x42494E4D, "binfmt_misc"},
    {0xF97CFF8C, "selinuxfs"},
    {0x6E736673, "nsfs"},
    {0x67596969, "rpc_pipefs"},
};

// File systems whose inode numbers are not stable, or whose timestamps come
// from another host's clock (statfs(2) magic numbers), those with 2-second
// timestamps, and the kernel's pseudo file systems.
FsTraits TraitsOfMagic(uint64_t magic) {
  FsTraits t;
  t.magic = magic;
  for (const auto& [m, name] : kPseudoFileSystems) {
    if (m == magic) {
      t.pseudo = name;
      return t;
    }
  }
  switch (magic) {
    case 0x65735546:  // FUSE (sshfs, ntfs-3g, virtiofs, rclone mount ...)
    case 0x6969:      // NFS
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x517B:      // SMB
    case 0x00C36400:  // Ceph
    case 0x01021997:  // 9p
    case 0x5346414F:  // AFS
    case 0x6B414653:  // kAFS
    case 0x73757245:  // Coda
    case 0x0BD00BD0:  // Lustre
    case 0x01161970:  // GFS2
    case 0x7461636F:  // OCFS2
    case 0x47504653:  // GPFS
    case 0x013111A8:  // IBRIX
    case 0x564C:      // NCP
      t.stable_inodes = false;
      break;
    case 0x4D44:      // FAT (msdos, vfat)
    case 0x2011BAB0:  // exFAT
      t.granularity_ns = 2'000'000'000;
      break;
    default:
      break;
  }
  return t;
}

namespace {

// One io_uring per thread, made on first use (core/io_ring.h). Batches of
// small-file operations go through it with one io_uring_enter(2) for the
// whole batch instead of one system call per file: on the 1M-file benchmark
// this halves the system time (docs/benchmarks.md). Where io_uring is
// unavailable (seccomp, kernel.io_uring_disabled, old kernels) or
// SMS_AGENT_IO_URING=0, the ring is not ok() and the callers use plain
// system calls; likewise once a ring has failed.
bool RingWanted() {
  // "0" (or off, false, no; sms-agent refuses other words at start).
  const char* env = std::getenv("SMS_AGENT_IO_URING");
  if (env == nullptr) return true;
  for (const char* off : {"0", "off", "false", "no"})
    if (strcasecmp(env, off) == 0) return false;
  return true;
}

// Calls f(base, n) for consecutive chunks of at most a ring's worth of `size`
// operations.
template <class F>
void ForEachChunk(size_t size, F&& f) {
  for (size_t base = 0; base < size; base += IoRing::kEntries)
    f(base,
      static_cast<unsigned>(std::min<size_t>(IoRing::kEntries, size - base)));
}

// The calling thread's ring; `check` decides on the thread's first call.
IoRing& ThreadRing(RingProbeCheck check) {
  thread_local IoRing ring(RingWanted() ? check : nullptr);
  return ring;
}

class Posix final : public FileSystem {
 public:
  explicit Posix(RingProbeCheck check) : check_(check) {}

  Result<int> OpenRoot(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) return fd;
    const int err = errno;
    Error e = ErrnoError(path, err);
    // Only a path that does not exist is "missing"; anything else (not a
    // directory, permission denied) is an error the user must see.
    e.code = err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo;
    return Fail(std::move(e));
  }

  Result<int> OpenDirAt(int dir, const char* name) override {
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Fail(ErrnoError("opendir", errno));
    return fd;
  }

  Result<size_t> ListSome(int dir, std::vector<DirEntryName>& out) override {
    alignas(8) char buf[64 * 1024];
    const size_t before = out.size();
    // A read of only "." and "..": read on, 0 means the end.
    while (out.size() == before) {
      long n = syscall(SYS_getdents64, dir, buf, sizeof(buf));
      if (n < 0) return Fail(ErrnoError("readdir", errno));
      if (n == 0) break;
      for (long off = 0; off < n;) {
        auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
        off += d->d_reclen;
        const char* name = d->d_name;
        if (name[0] == '.' &&
            (name[1] == 0 || (name[1] == '.' && name[2] == 0))) {
          continue;
        }
        out.push_back({std::string(name), FromDType(d->d_type), d->d_ino});
      }
    }
    return out.size() - before;
  }

  Result<StatInfo> StatAt(int dir, const char* name) override {
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Fail(ErrnoError("lstat", errno));
    }
    return FromStat(st);
  }

  Result<std::string> ReadLinkAt(int dir, const char* name) override {
    std::string target(256, '\0');
    for (;;) {
      ssize_t n = readlinkat(dir, name, target.data(), target.size());
      if (n < 0) return Fail(ErrnoError("readlink", errno));
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        return target;
      }
      target.resize(target.size() * 2);
    }
  }

  Result<int> OpenFileAt(int dir, const char* name) override {
    // O_NOATIME keeps a production source's atimes untouched; it needs
    // ownership (or CAP_FOWNER), so fall back without it.
    int fd = openat(dir, name, kReadOpenFlags | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = openat(dir, name, kReadOpenFlags);
    if (fd < 0) return Fail(ErrnoError("open", errno));
    return fd;
  }

  void OpenFilesAt(int dir, std::span<const char* const> names,
                   std::span<Result<int>> out) override {
    IoRing& ring = ThreadRing(check_);
    ForEachChunk(names.size(), [&](size_t base, unsigned n) {
      bool completed[IoRing::kEntries] = {};
      if (kRingOpensAndCloses && ring.ok()) {
        for (unsigned i = 0; i < n; ++i)
          ring.PrepOpenAt(i, dir, names[base + i], kReadOpenFlags | O_NOATIME);
        ring.Run(n, [&](uint64_t i, int res) {
          completed[i] = true;
          if (res >= 0) {
            out[base + i] = res;
          } else if (res == -EPERM) {  // not the owner: without O_NOATIME
            out[base + i] = OpenFileAt(dir, names[base + i]);
          } else {
            out[base + i] = Fail(ErrnoError("open", -res));
          }
        });
      }
      for (unsigned i = 0; i < n; ++i)
        if (!completed[i]) out[base + i] = OpenFileAt(dir, names[base + i]);
    });
  }

  Result<StatInfo> Stat(int handle) override {
    struct stat st;
    if (fstat(handle, &st) != 0) return Fail(ErrnoError("fstat", errno));
    return FromStat(st);
  }

  Result<size_t> Read(int handle, void* buffer, size_t size) override {
    for (;;) {
      ssize_t n = read(handle, buffer, size);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Fail(ErrnoError("read", errno));
    }
  }

  void AdviseSequential(int handle) override {
    posix_fadvise(handle, 0, 0, POSIX_FADV_SEQUENTIAL);
  }

  void ReadMany(std::span<ReadRequest> requests) override {
    IoRing& ring = ThreadRing(check_);
    ForEachChunk(requests.size(), [&](size_t base, unsigned n) {
      if (!ring.ok()) {
        for (unsigned i = 0; i < n; ++i) {
          ReadRequest& r = requests[base + i];
          r.result = Read(r.handle, r.buffer, r.size);
        }
        return;
      }
      for (unsigned i = 0; i < n; ++i) {
        ReadRequest& r = requests[base + i];
        ring.PrepRead(
            i, r.handle, r.buffer,
            static_cast<unsigned>(std::min<size_t>(r.size, size_t{1} << 30)));
        // A read the ring loses cannot be redone from the same position:
        // it is reported as failed, never guessed.
        r.result = Fail(Internal("read: io_uring failed before completing"));
      }
      ring.Run(n, [&](uint64_t i, int res) {
        ReadRequest& r = requests[base + i];
        if (res >= 0) {
          r.result = static_cast<size_t>(res);
        } else if (res == -EINTR || res == -EAGAIN) {
          r.result = Read(r.handle, r.buffer, r.size);
        } else {
          r.result = Fail(ErrnoError("read", -res));
        }
      });
    });
  }

  void Close(int handle) override { close(handle); }

  FsTraits Traits(int dir) override {
    struct statfs sfs;
    if (fstatfs(dir, &sfs) != 0) return {};
    return TraitsOfMagic(static_cast<uint64_t>(sfs.f_type));
  }

  Result<int> CreateTempFile(const std::string& dir) override {
    int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    // Kernels before 3.11 (EISDIR) and file systems without O_TMPFILE
    // (EOPNOTSUPP): a named file, unlinked at once.
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return Fail(ErrnoError("creating a temp file in " + dir, errno));
    }
    std::string path = dir + "/.sms-agent-sort-XXXXXX";
    fd = mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0)
      return Fail(ErrnoError("creating a temp file in " + dir, errno));
    if (unlink(path.c_str()) != 0) {
      const int err = errno;
      close(fd);
      return Fail(ErrnoError("unlinking temp file " + path, err));
    }
    return fd;
  }

  Status WriteAll(int handle, const void* data, size_t size) override {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = write(handle, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(ErrnoError("write", errno));
      p += n;
      size -= static_cast<size_t>(n);
    }
    return Ok();
  }

  Result<size_t> ReadAt(int handle, void* buffer, size_t size,
                        uint64_t offset) override {
    for (;;) {
      ssize_t n = pread(handle, buffer, size, static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Fail(ErrnoError("read", errno));
    }
  }

  void CloseMany(std::span<const int> handles) override {
    IoRing& ring = ThreadRing(check_);
    ForEachChunk(handles.size(), [&](size_t base, unsigned n) {
      if (kRingOpensAndCloses && ring.ok()) {
        for (unsigned i = 0; i < n; ++i) ring.PrepClose(i, handles[base + i]);
        // Closes the ring lost are not retried: the descriptor may already
        // be closed and reused by another thread; a leak is the safe side.
        ring.Run(n, [](uint64_t, int) {});
      } else {
        for (unsigned i = 0; i < n; ++i) close(handles[base + i]);
      }
    });
  }

 private:
  const RingProbeCheck check_;
};

}  // namespace

FileSystem& PosixFileSystem() {
  static Posix fs(&RingSupportsOurOps);
  return fs;
}

std::unique_ptr<FileSystem> NewPosixFileSystem(RingProbeCheck check) {
  return std::make_unique<Posix>(check);
}

}  // namespace sms::core
