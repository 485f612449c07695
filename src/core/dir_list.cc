#include "core/dir_list.h"

#include <algorithm>

#include "core/path_order.h"

namespace sms::core {

Result<std::vector<std::string>> NormalizeDirs(
    const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  for (const auto& raw : dirs) {
    if (raw.empty() || raw[0] != '/') {
      return Fail(
          InvalidArgument("directory '" + raw + "' is not an absolute path"));
    }
    if (raw.find('\0') != std::string::npos) {
      return Fail(InvalidArgument("directory contains a NUL byte"));
    }
    if (raw.size() > 4096) {
      return Fail(InvalidArgument("directory '" + raw.substr(0, 64) +
                                  "...' is longer than 4096 bytes"));
    }
    std::string norm;
    size_t i = 0;
    while (i < raw.size()) {
      while (i < raw.size() && raw[i] == '/') ++i;
      size_t j = raw.find('/', i);
      if (j == std::string::npos) j = raw.size();
      std::string_view part(raw.data() + i, j - i);
      if (part == "..") {
        return Fail(InvalidArgument("directory '" + raw +
                                    "' contains a '..' component"));
      }
      if (!part.empty() && part != ".") {
        norm += '/';
        norm.append(part);
      }
      i = j;
    }
    out.push_back(norm.empty() ? "/" : norm);
  }
  if (out.empty()) out.push_back("/");
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) {
              return ComparePaths(a, b) < 0;
            });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  // Walk order puts a parent right before its descendants.
  std::vector<std::string> reduced;
  for (auto& d : out) {
    if (!reduced.empty() &&
        (reduced.back() == "/" || IsUnder(d, reduced.back()))) {
      continue;
    }
    reduced.push_back(std::move(d));
  }
  return reduced;
}

}  // namespace sms::core
