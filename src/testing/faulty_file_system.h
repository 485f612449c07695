// FaultyFileSystem: the real file system with chosen faults injected
// (leveldb's ErrorEnv idea): opening a named file fails with an errno, a
// named file is modified on disk while it is being read, reads of a named
// file return other bytes (silent corruption), timestamps lose their
// fraction of a second (1-second file systems), inode numbers are not
// stable (FUSE, NFS), or a file vanishes or is replaced right before it is
// opened. Counts the files opened.
//
// The batch forms (OpenFilesAt, ReadMany, CloseMany) loop over the single
// forms, as plain system calls, unless BatchThroughRing() is called: then
// they go to the real file system's batches (io_uring, where the kernel has
// it) with the very same faults, so a test can run on either path.
// Thread-safety: configure before use; then safe for concurrent use.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "core/file_system.h"

namespace sms::testing {

class FaultyFileSystem final : public core::FileSystem {
 public:
  // Opening a file (or directory) whose name is `name` fails with `err`.
  void FailOpen(const std::string& name, int err) { fail_open_[name] = err; }
  // While file `name` is read, `path` (its real path) gets `bytes` appended
  // after the first read.
  void GrowWhileRead(const std::string& name, const std::string& path) {
    grow_[name] = path;
  }
  // Right after the first read of the `nth_open`th opening of file `name`,
  // `action` runs (it truncates the file, or renames another over it, as
  // another process might while it is read). Once.
  void AfterFirstRead(const std::string& name, std::function<void()> action,
                      int nth_open = 1) {
    after_read_[name] = {nth_open, std::move(action)};
  }
  // Right before file `name` is first opened, `action` runs (it removes the
  // file, or puts a FIFO or a symlink in its place, as another process
  // might between the listing and the open). Once.
  void OnOpen(const std::string& name, std::function<void()> action) {
    on_open_[name] = std::move(action);
  }
  // The batch forms use the real file system's batches (io_uring).
  void BatchThroughRing() { ring_ = true; }
  // Reads of file `name` return its bytes with the first one inverted, as
  // a disk that decayed under an unchanged inode would.
  void CorruptReads(const std::string& name) { corrupt_.insert(name); }
  // mtime and ctime are reported in whole seconds.
  void CoarseTimestamps() { coarse_ = true; }
  // Traits() says inodes are not stable, and every stat reports another
  // inode number.
  void UnstableInodes() { unstable_ = true; }
  // A directory named `name` is the mount point of a file system whose
  // statfs magic is `magic` (0x9FA0: proc): an fstat of it reports another
  // device (kMountedDev) and Traits() that file system's.
  void MountAt(const std::string& name, uint64_t magic) {
    mounts_[name] = magic;
  }
  static constexpr uint64_t kMountedDev = 0x5eed;
  // Creating a temp file fails with `err` (a spill directory that is not
  // writable or does not exist).
  void FailTempFiles(int err) { fail_temp_create_ = err; }
  // Writes to temp files fail with `err` once `bytes` were written in all
  // (a full disk).
  void FailTempWritesAfter(uint64_t bytes, int err) {
    temp_write_budget_ = bytes;
    fail_temp_write_ = err;
  }
  // Reads of temp files fail with `err`.
  void FailTempReads(int err) { fail_temp_read_ = err; }
  // Temp files created so far.
  uint64_t temp_files_created() const { return temp_files_.load(); }
  // Regular files opened so far (OpenFileAt).
  uint64_t files_opened() const { return files_opened_.load(); }
  // fstat calls on open handles so far (Stat).
  uint64_t handle_stats() const { return handle_stats_.load(); }

  core::Result<int> OpenRoot(const std::string& path) override;
  core::Result<int> OpenDirAt(int dir, const char* name) override;
  core::Result<size_t> ListSome(int dir,
                                std::vector<core::DirEntryName>& out) override;
  core::Result<core::StatInfo> StatAt(int dir, const char* name) override;
  core::Result<std::string> ReadLinkAt(int dir, const char* name) override;
  core::Result<int> OpenFileAt(int dir, const char* name) override;
  core::Result<core::StatInfo> Stat(int handle) override;
  core::Result<size_t> Read(int handle, void* buffer, size_t size) override;
  void AdviseSequential(int handle) override;
  void Close(int handle) override;
  void OpenFilesAt(int dir, std::span<const char* const> names,
                   std::span<core::Result<int>> out) override;
  void ReadMany(std::span<core::ReadRequest> requests) override;
  void CloseMany(std::span<const int> handles) override;
  core::FsTraits Traits(int dir) override;
  core::Result<int> CreateTempFile(const std::string& dir) override;
  core::Status WriteAll(int handle, const void* data, size_t size) override;
  core::Result<size_t> ReadAt(int handle, void* buffer, size_t size,
                              uint64_t offset) override;

 private:
  core::StatInfo Adjust(core::StatInfo st);
  // The open of `name` as injected (FailOpen), or 0: open it for real
  // (after its OnOpen action).
  int BeforeOpen(const char* name);
  // Counts and tracks a file `name` opened as `fd`.
  void Opened(const char* name, int fd);
  // Corrupts or grows what a read of `handle` got, as configured.
  void AfterRead(int handle, void* buffer, const core::Result<size_t>& n);
  void Forget(int handle);

  core::FileSystem& real_ = core::PosixFileSystem();
  std::map<std::string, int> fail_open_;
  std::map<std::string, std::string> grow_;
  std::set<std::string> corrupt_;
  bool coarse_ = false;
  bool unstable_ = false;
  bool ring_ = false;
  std::map<std::string, std::function<void()>> on_open_;  // Guarded by mu_.
  // name -> (the opening still to come it fires on, action); Guarded by mu_.
  std::map<std::string, std::pair<int, std::function<void()>>> after_read_;
  std::map<int, std::function<void()>> reading_;  // handle -> action; mu_
  int fail_temp_create_ = 0;
  int fail_temp_write_ = 0;
  int fail_temp_read_ = 0;
  std::atomic<uint64_t> temp_write_budget_{0};
  std::atomic<uint64_t> temp_files_{0};
  std::atomic<uint64_t> files_opened_{0};
  std::atomic<uint64_t> stats_{0};
  std::atomic<uint64_t> handle_stats_{0};
  std::mutex mu_;
  std::map<int, std::string> growing_;       // handle -> path; Guarded by mu_.
  std::set<int> corrupting_;                 // handles; Guarded by mu_.
  std::map<std::string, uint64_t> mounts_;   // name -> statfs magic
  std::map<int, uint64_t> mounted_handles_;  // handle -> magic; mu_
};

}  // namespace sms::testing
