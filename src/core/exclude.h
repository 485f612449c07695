// ExcludeMatcher: the `--exclude GLOB` rules, applied identically on both
// sides so an excluded path never produces a verdict.
//
// A pattern without '/' matches the name of an entry at any depth
// ("*.log", "cache"); a pattern with '/' matches the whole path relative to
// the verified root ("var/cache/*", a leading '/' is ignored), where '*' also
// crosses '/'. An excluded directory is not entered. Globs are fnmatch(3).
// Thread-safety: immutable after construction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sms::core {

class ExcludeMatcher final {
 public:
  explicit ExcludeMatcher(std::vector<std::string> patterns);

  bool empty() const {
    return name_patterns_.empty() && path_patterns_.empty();
  }
  // `root_path`: the entry's path relative to the verified root;
  // `name`: its last component.
  bool Matches(const std::string& root_path, const char* name) const;

 private:
  std::vector<std::string> name_patterns_;
  std::vector<std::string> path_patterns_;
};

}  // namespace sms::core
