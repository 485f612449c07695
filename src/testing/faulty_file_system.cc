#include "testing/faulty_file_system.h"

#include "testing/temp_dir.h"

namespace sms::testing {

using core::Fail;

core::Result<int> FaultyFileSystem::OpenRoot(const std::string& path) {
  return real_.OpenRoot(path);
}

core::Result<int> FaultyFileSystem::OpenDirAt(int dir, const char* name) {
  if (auto it = fail_open_.find(name); it != fail_open_.end()) {
    return Fail(core::ErrnoError("opendir", it->second));
  }
  return real_.OpenDirAt(dir, name);
}

core::Result<std::vector<core::DirEntryName>> FaultyFileSystem::List(int dir) {
  return real_.List(dir);
}

core::Result<core::StatInfo> FaultyFileSystem::StatAt(int dir,
                                                      const char* name) {
  return real_.StatAt(dir, name);
}

core::Result<std::string> FaultyFileSystem::ReadLinkAt(int dir,
                                                       const char* name) {
  return real_.ReadLinkAt(dir, name);
}

core::Result<int> FaultyFileSystem::OpenFileAt(int dir, const char* name) {
  if (auto it = fail_open_.find(name); it != fail_open_.end()) {
    return Fail(core::ErrnoError("open", it->second));
  }
  auto fd = real_.OpenFileAt(dir, name);
  if (fd) {
    if (auto it = grow_.find(name); it != grow_.end()) {
      std::lock_guard<std::mutex> lock(mu_);
      growing_[*fd] = it->second;
    }
  }
  return fd;
}

core::Result<core::StatInfo> FaultyFileSystem::Stat(int handle) {
  return real_.Stat(handle);
}

core::Result<size_t> FaultyFileSystem::Read(int handle, void* buffer,
                                            size_t size) {
  auto n = real_.Read(handle, buffer, size);
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = growing_.find(handle);
    if (it != growing_.end()) {
      path = it->second;
      growing_.erase(it);
    }
  }
  if (!path.empty()) {
    // Append without changing what was already read: a live log file.
    RunShell("printf 'more data' >> '" + path + "'");
  }
  return n;
}

void FaultyFileSystem::AdviseSequential(int handle) {
  real_.AdviseSequential(handle);
}

void FaultyFileSystem::Close(int handle) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    growing_.erase(handle);
  }
  real_.Close(handle);
}

}  // namespace sms::testing
