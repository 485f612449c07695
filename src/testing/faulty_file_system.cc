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
  auto fd = real_.OpenDirAt(dir, name);
  if (auto it = mounts_.find(name); fd && it != mounts_.end()) {
    std::lock_guard<std::mutex> lock(mu_);
    mounted_handles_[*fd] = it->second;
  }
  return fd;
}

core::Result<size_t> FaultyFileSystem::ListSome(
    int dir, std::vector<core::DirEntryName>& out) {
  return real_.ListSome(dir, out);
}

core::Result<int> FaultyFileSystem::CreateTempFile(const std::string& dir) {
  if (fail_temp_create_ != 0) {
    return Fail(
        core::ErrnoError("creating a temp file in " + dir, fail_temp_create_));
  }
  auto fd = real_.CreateTempFile(dir);
  if (fd) temp_files_.fetch_add(1);
  return fd;
}

core::Status FaultyFileSystem::WriteAll(int handle, const void* data,
                                        size_t size) {
  if (fail_temp_write_ != 0) {
    uint64_t budget = temp_write_budget_.load();
    do {
      if (budget < size) {
        return Fail(core::ErrnoError("write", fail_temp_write_));
      }
    } while (!temp_write_budget_.compare_exchange_weak(budget, budget - size));
  }
  return real_.WriteAll(handle, data, size);
}

core::Result<size_t> FaultyFileSystem::ReadAt(int handle, void* buffer,
                                              size_t size, uint64_t offset) {
  if (fail_temp_read_ != 0) {
    return Fail(core::ErrnoError("read", fail_temp_read_));
  }
  return real_.ReadAt(handle, buffer, size, offset);
}

core::StatInfo FaultyFileSystem::Adjust(core::StatInfo st) {
  constexpr int64_t kSecond = 1'000'000'000;
  if (coarse_) {
    st.mtime_ns -= st.mtime_ns % kSecond;
    st.ctime_ns -= st.ctime_ns % kSecond;
  }
  if (unstable_) st.ino += 1000000 + stats_.fetch_add(1);
  return st;
}

core::Result<core::StatInfo> FaultyFileSystem::StatAt(int dir,
                                                      const char* name) {
  auto st = real_.StatAt(dir, name);
  if (!st) return st;
  return Adjust(*st);
}

core::FsTraits FaultyFileSystem::Traits(int dir) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = mounted_handles_.find(dir); it != mounted_handles_.end()) {
      return core::TraitsOfMagic(it->second);
    }
  }
  core::FsTraits t = real_.Traits(dir);
  if (unstable_) t.stable_inodes = false;
  return t;
}

core::Result<std::string> FaultyFileSystem::ReadLinkAt(int dir,
                                                       const char* name) {
  return real_.ReadLinkAt(dir, name);
}

int FaultyFileSystem::BeforeOpen(const char* name) {
  if (auto it = fail_open_.find(name); it != fail_open_.end()) {
    return it->second;
  }
  std::function<void()> action;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = on_open_.find(name); it != on_open_.end()) {
      action = std::move(it->second);
      on_open_.erase(it);
    }
  }
  if (action) action();
  return 0;
}

void FaultyFileSystem::Opened(const char* name, int fd) {
  files_opened_.fetch_add(1);
  if (auto it = grow_.find(name); it != grow_.end()) {
    std::lock_guard<std::mutex> lock(mu_);
    growing_[fd] = it->second;
  }
  if (corrupt_.count(name) > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    corrupting_.insert(fd);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = after_read_.find(name);
      it != after_read_.end() && --it->second.first == 0) {
    reading_[fd] = std::move(it->second.second);
    after_read_.erase(it);
  }
}

core::Result<int> FaultyFileSystem::OpenFileAt(int dir, const char* name) {
  if (int err = BeforeOpen(name); err != 0) {
    return Fail(core::ErrnoError("open", err));
  }
  auto fd = real_.OpenFileAt(dir, name);
  if (fd) Opened(name, *fd);
  return fd;
}

void FaultyFileSystem::OpenFilesAt(int dir, std::span<const char* const> names,
                                   std::span<core::Result<int>> out) {
  if (!ring_) return FileSystem::OpenFilesAt(dir, names, out);
  // The faults here, every other open in one batch of the real file system.
  std::vector<const char*> real_names;
  std::vector<size_t> index;
  for (size_t i = 0; i < names.size(); ++i) {
    if (int err = BeforeOpen(names[i]); err != 0) {
      out[i] = Fail(core::ErrnoError("open", err));
      continue;
    }
    real_names.push_back(names[i]);
    index.push_back(i);
  }
  std::vector<core::Result<int>> fds(real_names.size());
  real_.OpenFilesAt(dir, real_names, fds);
  for (size_t j = 0; j < fds.size(); ++j) {
    if (fds[j]) Opened(real_names[j], *fds[j]);
    out[index[j]] = std::move(fds[j]);
  }
}

core::Result<core::StatInfo> FaultyFileSystem::Stat(int handle) {
  handle_stats_.fetch_add(1);
  auto st = real_.Stat(handle);
  if (!st) return st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (mounted_handles_.count(handle) > 0) st->dev = kMountedDev;
  }
  return Adjust(*st);
}

core::Result<size_t> FaultyFileSystem::Read(int handle, void* buffer,
                                            size_t size) {
  auto n = real_.Read(handle, buffer, size);
  AfterRead(handle, buffer, n);
  return n;
}

void FaultyFileSystem::ReadMany(std::span<core::ReadRequest> requests) {
  if (!ring_) return FileSystem::ReadMany(requests);
  real_.ReadMany(requests);
  for (core::ReadRequest& r : requests) AfterRead(r.handle, r.buffer, r.result);
}

void FaultyFileSystem::AfterRead(int handle, void* buffer,
                                 const core::Result<size_t>& n) {
  std::string path;
  std::function<void()> action;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = reading_.find(handle); it != reading_.end()) {
      action = std::move(it->second);
      reading_.erase(it);
    }
    if (n && *n > 0 && corrupting_.erase(handle) > 0) {
      auto* bytes = static_cast<unsigned char*>(buffer);
      bytes[0] = static_cast<unsigned char>(~bytes[0]);
    }
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
  if (action) action();
}

void FaultyFileSystem::AdviseSequential(int handle) {
  real_.AdviseSequential(handle);
}

void FaultyFileSystem::Forget(int handle) {
  std::lock_guard<std::mutex> lock(mu_);
  growing_.erase(handle);
  corrupting_.erase(handle);
  mounted_handles_.erase(handle);
  reading_.erase(handle);
}

void FaultyFileSystem::Close(int handle) {
  Forget(handle);
  real_.Close(handle);
}

void FaultyFileSystem::CloseMany(std::span<const int> handles) {
  if (!ring_) return FileSystem::CloseMany(handles);
  for (int handle : handles) Forget(handle);
  real_.CloseMany(handles);
}

}  // namespace sms::testing
