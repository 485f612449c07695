// Entry: what one side knows about one path of a tree, as the walker and the
// hash pool produce it and the manifest stream carries it.
//
// Paths are bytes, relative to the section's root, '/'-separated, with no
// leading or trailing slash; no normalisation of any kind is applied.
// Thread-safety: plain value types.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sms::core {

enum class FileType : uint8_t {
  kRegular = 1,
  kDirectory = 2,
  kSymlink = 3,
  kFifo = 4,
  kSocket = 5,
  kCharDevice = 6,
  kBlockDevice = 7,
  kUnknown = 8,
};

// FileTypeName() returns "file", "dir", "symlink", "fifo", "socket",
// "char_device", "block_device" or "unknown".
std::string_view FileTypeName(FileType type);
// FileTypeFromMode() maps st_mode's S_IFMT bits to a FileType.
FileType FileTypeFromMode(uint32_t st_mode);

enum class EntryState : uint8_t {
  kOk = 0,       // metadata (and digest, when hashed) are valid
  kChanged = 1,  // the file moved while it was read: no verdict possible
  kError = 2,    // could not be read or listed; `error` says why
};

// A content digest: XXH3-128 (16 bytes) or SHA-256 (32 bytes).
struct Digest {
  std::array<uint8_t, 32> bytes{};
  uint8_t size = 0;

  bool empty() const { return size == 0; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), size};
  }
  std::string Hex() const;
  friend bool operator==(const Digest& a, const Digest& b) {
    return a.view() == b.view();
  }
};

struct Entry {
  std::string path;  // relative to the section root
  FileType type = FileType::kUnknown;
  EntryState state = EntryState::kOk;
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits (st_mode & 07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_ns = 0;
  uint64_t rdev = 0;        // devices only
  std::string link_target;  // symlinks only
  Digest digest;            // regular files in hash mode
  std::string error;        // state == kError: the errno text and context

  // Regular files in hash mode, where the digest came from (core/
  // hash_cache.h): `cached` when reused from the side's hash cache without
  // reading; `corrupt` when a re-read found other content although size,
  // mtime, ctime and inode matched the cached entry. Both travel in the
  // manifest; the fields below stay on the side that stat'ed the file.
  bool cached = false;
  bool corrupt = false;
  int64_t ctime_ns = 0;
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t hashed_at_ns = 0;  // wall time before the digested read began

  bool is_dir() const { return type == FileType::kDirectory; }
};

// How one side's section root turned out.
enum class RootState : uint8_t {
  kOk = 0,
  kMissing = 1,  // the directory does not exist on this side
  kError = 2,    // exists but cannot be opened (or is not a directory)
};

// Section: one directory to verify (a `dir_check`), as seen by one side.
struct Section {
  std::string dir_check;  // absolute, as the user gave it ("/", "/etc")
  RootState state = RootState::kOk;
  std::string error;  // state != kOk
};

}  // namespace sms::core
