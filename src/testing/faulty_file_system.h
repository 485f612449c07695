// FaultyFileSystem: the real file system with chosen faults injected
// (leveldb's ErrorEnv idea): opening a named file fails with an errno, or a
// named file is modified on disk while it is being read.
// Thread-safety: configure before use; then safe for concurrent use.
#pragma once

#include <map>
#include <mutex>
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

  core::Result<int> OpenRoot(const std::string& path) override;
  core::Result<int> OpenDirAt(int dir, const char* name) override;
  core::Result<std::vector<core::DirEntryName>> List(int dir) override;
  core::Result<core::StatInfo> StatAt(int dir, const char* name) override;
  core::Result<std::string> ReadLinkAt(int dir, const char* name) override;
  core::Result<int> OpenFileAt(int dir, const char* name) override;
  core::Result<core::StatInfo> Stat(int handle) override;
  core::Result<size_t> Read(int handle, void* buffer, size_t size) override;
  void AdviseSequential(int handle) override;
  void Close(int handle) override;

 private:
  core::FileSystem& real_ = core::PosixFileSystem();
  std::map<std::string, int> fail_open_;
  std::map<std::string, std::string> grow_;
  std::mutex mu_;
  std::map<int, std::string> growing_;  // handle -> path; Guarded by mu_.
};

}  // namespace sms::testing
