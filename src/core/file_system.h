// FileSystem: the seam between the walker/hash pool and the operating system.
//
// Handles are small integers (file descriptors for PosixFileSystem). Names are
// single path components resolved relative to a directory handle, so paths of
// any length and depth work, and no path is resolved twice. Nothing follows
// symlinks. Tests wrap the real file system to inject faults
// (src/testing/faulty_file_system.h).
// Thread-safety: implementations are safe for concurrent use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/entry.h"
#include "core/result.h"

namespace sms::core {

struct StatInfo {
  FileType type = FileType::kUnknown;
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits only
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t nlink = 0;
  uint64_t rdev = 0;
};

// One read of a batch (FileSystem::ReadMany).
struct ReadRequest {
  int handle = -1;
  void* buffer = nullptr;
  size_t size = 0;
  Result<size_t> result = 0;  // bytes read, as Read() would return
};

// What the hash cache must know of the file system holding a directory
// (core/hash_cache.h).
struct FsTraits {
  // False where inode numbers (and device numbers) may change while the
  // file does not: FUSE and network file systems. The cache then keys on
  // size, mtime and ctime only and allows for the server's clock.
  bool stable_inodes = true;
  // The file system's timestamp granularity when its type tells it (FAT,
  // exFAT: 2 s); 0 when unknown.
  int64_t granularity_ns = 0;
  uint64_t magic = 0;  // statfs f_type, for messages
  // A kernel pseudo file system (proc, sysfs, cgroup, debugfs ...): its
  // "files" are views of the running kernel, not data, and some block when
  // read (/proc/kmsg). Named ("proc") when so, else empty.
  std::string_view pseudo;
};

// What the statfs(2) magic number `magic` says of a file system.
FsTraits TraitsOfMagic(uint64_t magic);

struct DirEntryName {
  std::string name;
  FileType type_hint = FileType::kUnknown;  // from d_type; kUnknown if unsure
  uint64_t ino = 0;                         // from d_ino; 0 if unknown
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens the directory at absolute `path` (symlinks in `path` itself are
  // followed, as the user named it). The caller closes the handle.
  [[nodiscard]] virtual Result<int> OpenRoot(const std::string& path) = 0;
  // Opens directory `name` inside `dir` without following a symlink.
  [[nodiscard]] virtual Result<int> OpenDirAt(int dir, const char* name) = 0;
  // Appends to `out` the next entries of `dir` except "." and "..", in no
  // particular order, as one read of the listing returns them (a few
  // thousand at most), and returns how many it appended; 0 once the
  // listing has been read whole. Call it on a freshly opened handle until
  // it returns 0: memory stays bounded however large the directory.
  [[nodiscard]] virtual Result<size_t> ListSome(
      int dir, std::vector<DirEntryName>& out) = 0;
  // The whole listing: ListSome until the end.
  [[nodiscard]] Result<std::vector<DirEntryName>> List(int dir);
  // lstat of `name` inside `dir`.
  [[nodiscard]] virtual Result<StatInfo> StatAt(int dir, const char* name) = 0;
  // The target string of symlink `name` inside `dir`.
  [[nodiscard]] virtual Result<std::string> ReadLinkAt(int dir,
                                                       const char* name) = 0;
  // Opens regular file `name` inside `dir` for reading, never following a
  // symlink and never blocking on a FIFO.
  [[nodiscard]] virtual Result<int> OpenFileAt(int dir, const char* name) = 0;
  // fstat of an open handle.
  [[nodiscard]] virtual Result<StatInfo> Stat(int handle) = 0;
  // Reads up to `size` bytes; 0 at end of file.
  [[nodiscard]] virtual Result<size_t> Read(int handle, void* buffer,
                                            size_t size) = 0;
  // Hints that `handle` will be read sequentially to the end.
  virtual void AdviseSequential(int handle) = 0;
  virtual void Close(int handle) = 0;

  // Batch forms of OpenFileAt, Read and Close, for implementations that
  // submit many operations with one system call (PosixFileSystem: io_uring).
  // Each element behaves exactly as the single form would. The defaults loop
  // over the single forms, so wrappers that override those (fault injection)
  // see every operation.
  // out[i] = OpenFileAt(dir, names[i]); names.size() == out.size().
  virtual void OpenFilesAt(int dir, std::span<const char* const> names,
                           std::span<Result<int>> out);
  // Each request reads up to `size` bytes from the handle's position.
  virtual void ReadMany(std::span<ReadRequest> requests);
  virtual void CloseMany(std::span<const int> handles);

  // What kind of file system holds directory `dir` (fstatfs). The default
  // claims a local file system with stable inodes.
  virtual FsTraits Traits(int dir);

  // Temp files: where the walker spills the sorted runs of a directory too
  // large to sort in memory (core/name_sorter.h).
  // Creates a file without a name in directory `dir`, open for reading and
  // writing, that vanishes when its handle is closed (O_TMPFILE, else
  // mkstemp and unlink). Errors name `dir`.
  [[nodiscard]] virtual Result<int> CreateTempFile(const std::string& dir) = 0;
  // Appends all `size` bytes of `data` to the file (the handle's position).
  [[nodiscard]] virtual Status WriteAll(int handle, const void* data,
                                        size_t size) = 0;
  // Reads up to `size` bytes at `offset` (pread); 0 at end of file.
  [[nodiscard]] virtual Result<size_t> ReadAt(int handle, void* buffer,
                                              size_t size, uint64_t offset) = 0;
};

// The real file system (Linux system calls). Process-wide, stateless.
FileSystem& PosixFileSystem();

// Handle: closes a handle of `fs` when it goes out of scope. Move-only.
class Handle final {
 public:
  Handle() = default;
  Handle(FileSystem* fs, int fd) : fs_(fs), fd_(fd) {}
  ~Handle() { Reset(); }
  Handle(Handle&& other) noexcept : fs_(other.fs_), fd_(other.fd_) {
    other.fd_ = -1;
  }
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      Reset();
      fs_ = other.fs_;
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) fs_->Close(fd_);
    fd_ = -1;
  }

 private:
  FileSystem* fs_ = nullptr;
  int fd_ = -1;
};

}  // namespace sms::core
