#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/file_system.h"

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

class Posix final : public FileSystem {
 public:
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

  Result<std::vector<DirEntryName>> List(int dir) override {
    std::vector<DirEntryName> out;
    alignas(8) char buf[64 * 1024];
    for (;;) {
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
        out.push_back({std::string(name), FromDType(d->d_type)});
      }
    }
    return out;
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
    constexpr int kFlags =
        O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    // O_NOATIME keeps a production source's atimes untouched; it needs
    // ownership (or CAP_FOWNER), so fall back without it.
    int fd = openat(dir, name, kFlags | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = openat(dir, name, kFlags);
    if (fd < 0) return Fail(ErrnoError("open", errno));
    return fd;
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

  void Close(int handle) override { close(handle); }
};

}  // namespace

FileSystem& PosixFileSystem() {
  static Posix fs;
  return fs;
}

}  // namespace sms::core
