#include "core/file_system.h"

namespace sms::core {

void FileSystem::OpenFilesAt(int dir, std::span<const char* const> names,
                             std::span<Result<int>> out) {
  for (size_t i = 0; i < names.size(); ++i) out[i] = OpenFileAt(dir, names[i]);
}

void FileSystem::ReadMany(std::span<ReadRequest> requests) {
  for (ReadRequest& r : requests) r.result = Read(r.handle, r.buffer, r.size);
}

void FileSystem::CloseMany(std::span<const int> handles) {
  for (int h : handles) Close(h);
}

FsTraits FileSystem::Traits(int) { return {}; }

Result<std::vector<DirEntryName>> FileSystem::List(int dir) {
  std::vector<DirEntryName> out;
  for (;;) {
    SMS_ASSIGN_OR_RETURN(size_t n, ListSome(dir, out));
    if (n == 0) return out;
  }
}

}  // namespace sms::core
