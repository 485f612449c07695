#include "core/exclude.h"

#include <fnmatch.h>

namespace sms::core {

ExcludeMatcher::ExcludeMatcher(std::vector<std::string> patterns) {
  for (auto& p : patterns) {
    if (p.empty()) continue;
    if (p.find('/') == std::string::npos) {
      name_patterns_.push_back(std::move(p));
    } else {
      while (!p.empty() && p.front() == '/') p.erase(p.begin());
      while (!p.empty() && p.back() == '/') p.pop_back();
      if (!p.empty()) path_patterns_.push_back(std::move(p));
    }
  }
}

bool ExcludeMatcher::Matches(const std::string& root_path,
                             const char* name) const {
  for (const auto& p : name_patterns_) {
    if (fnmatch(p.c_str(), name, 0) == 0) return true;
  }
  for (const auto& p : path_patterns_) {
    if (fnmatch(p.c_str(), root_path.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace sms::core
