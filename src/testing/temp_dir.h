// Test-only helpers: a temporary directory removed at destruction, and
// small functions that build fixture trees in it (files with exact bytes and
// mtimes, directories, symlinks, FIFOs).
// Thread-safety: not thread-safe; one test owns one TempDir.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sms::testing {

class TempDir final {
 public:
  // Creates a fresh directory under $TMPDIR (or /tmp). Aborts on failure.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Returns path() + "/" + rel.
  std::string Join(std::string_view rel) const;

 private:
  std::string path_;
};

// Creates every missing directory of `path` (like mkdir -p).
void MakeDirs(const std::string& path);
// Writes `content` to `path` (parents created), then sets its mtime when
// `mtime_sec` >= 0.
void WriteFile(const std::string& path, std::string_view content,
               int64_t mtime_sec = 1600000000);
// Creates a symlink at `path` pointing to `target` (parents created).
void MakeSymlink(const std::string& target, const std::string& path);
// Reads a whole file; aborts when it cannot.
std::string ReadFile(const std::string& path);
// Removes `path` recursively (rm -rf); missing paths are fine.
void RemoveAll(const std::string& path);
// Runs `command` with /bin/sh, returns its exit status (0..255, or -1).
int RunShell(const std::string& command);

}  // namespace sms::testing
