// Path lists for re-checking only some files (`verify --only-paths FILE`, the
// service's `scope: "inconsistent"`): read from the lists `verify --list`
// writes, sorted into the sections of a check, and carried to an ssh
// target's `manifest --only-paths -` on its stdin.
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sms::agent {

// Per dir_check, the paths relative to it, sorted in walk order without
// duplicates (core::ScanOptions::only_paths).
using PathSets = std::map<std::string, std::vector<std::string>>;

// Collects paths into the sections `dirs` (normalised dir_checks).
class PathSetBuilder final {
 public:
  explicit PathSetBuilder(std::vector<std::string> dirs);
  // A path relative to the verified root ("etc/passwd"). False when it is
  // outside every directory of the check (it is then ignored).
  bool AddRootRelative(std::string_view path);
  // A path relative to `dir_check` (the API's FileDiff).
  bool Add(std::string_view dir_check, std::string_view path);
  // Sorts and drops duplicates; every section of the check is present.
  PathSets Build();
  size_t ignored() const { return ignored_; }

 private:
  const std::vector<std::string> dirs_;
  PathSets sets_;
  size_t ignored_ = 0;
};

// Reads a list file: the text list (`= path`, `* path`, ... as `verify
// --list` writes it, escapes undone, a trailing '/' of directories dropped;
// `=` lines are skipped), JSON lines of FileDiff objects (`dir_check`,
// `path` or `path_b64`; `"status":"same"` skipped), or plain paths relative
// to the root, one a line (a plain path that starts with a sigil and a
// space is read as a sigil line). Empty lines are skipped. Errors name the
// file and line.
// Returns the runs the list was written for: the "run_id"s of its JSON
// lines (`verify --list` of an uploaded run writes one), each once, in the
// order first seen; none for a list that names no run.
[[nodiscard]] core::Result<std::vector<std::string>> ReadPathList(
    const std::string& file, PathSetBuilder& out);

// The wire form for `manifest --only-paths -`: dir_check NUL path NUL ...
std::string EncodePathSets(const PathSets& sets);
[[nodiscard]] core::Result<PathSets> DecodePathSets(std::string_view bytes);

// Undoes the escapes of the text list (\\ \n \r \t \xHH).
[[nodiscard]] core::Result<std::string> UnescapeListPath(std::string_view s);

}  // namespace sms::agent
