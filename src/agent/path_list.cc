#include "agent/path_list.h"

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>

#include "auth/crypto.h"
#include "core/path_order.h"

namespace sms::agent {
namespace json = boost::json;

PathSetBuilder::PathSetBuilder(std::vector<std::string> dirs)
    : dirs_(std::move(dirs)) {}

bool PathSetBuilder::AddRootRelative(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  // "../x" or "a//b" is outside every directory of the check too.
  if (!core::IsWalkPath(path)) {
    ++ignored_;
    return false;
  }
  for (const auto& d : dirs_) {
    if (d == "/") {
      sets_[d].emplace_back(path);
      return true;
    }
    const std::string_view rel = std::string_view(d).substr(1);
    if (path.size() > rel.size() && path.substr(0, rel.size()) == rel &&
        path[rel.size()] == '/') {
      sets_[d].emplace_back(path.substr(rel.size() + 1));
      return true;
    }
  }
  ++ignored_;
  return false;
}

bool PathSetBuilder::Add(std::string_view dir_check, std::string_view path) {
  if (std::find(dirs_.begin(), dirs_.end(), dir_check) != dirs_.end()) {
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    if (!core::IsWalkPath(path)) {
      ++ignored_;
      return false;
    }
    sets_[std::string(dir_check)].emplace_back(path);
    return true;
  }
  std::string root_relative(dir_check.size() > 1 ? dir_check.substr(1) : "");
  if (!root_relative.empty()) root_relative += '/';
  root_relative += path;
  return AddRootRelative(root_relative);
}

PathSets PathSetBuilder::Build() {
  PathSets out = std::move(sets_);
  for (auto& [dir, paths] : out) {
    std::sort(paths.begin(), paths.end(),
              [](const std::string& a, const std::string& b) {
                return core::ComparePaths(a, b) < 0;
              });
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  }
  // Every section of the check is present, even with nothing to check.
  for (const auto& d : dirs_) out[d];
  return out;
}

core::Result<std::string> UnescapeListPath(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) {
      return core::Fail(core::InvalidArgument("a lone backslash at the end"));
    }
    switch (s[i]) {
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'x': {
        auto hex = [](char c) -> int {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          return -1;
        };
        if (i + 2 >= s.size()) {
          return core::Fail(core::InvalidArgument("a short \\x escape"));
        }
        const int hi = hex(s[i + 1]);
        const int lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0) {
          return core::Fail(core::InvalidArgument("a bad \\x escape"));
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default:
        return core::Fail(
            core::InvalidArgument(std::string("an unknown escape \\") + s[i]));
    }
  }
  return out;
}

namespace {

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
}

}  // namespace

core::Result<std::vector<std::string>> ReadPathList(const std::string& file,
                                                    PathSetBuilder& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return core::Fail(core::ErrnoError("--only-paths " + file, errno));
  }
  std::string line;
  size_t number = 0;
  std::vector<std::string> run_ids;
  static constexpr std::string_view kSigils = "=*-+~!%#";
  while (std::getline(in, line)) {
    ++number;
    const std::string where = file + ":" + std::to_string(number) + ": ";
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    // The header --list-format csv writes: read as plain paths, its lines
    // name nothing, and the re-check would say CONSISTENT.
    if (number == 1 && line.starts_with("dir_check,path,status,")) {
      return core::Fail(core::InvalidArgument(
          where +
          "a CSV list cannot be re-checked (its paths are not exact bytes); "
          "write the list with --list-format text or jsonl"));
    }
    if (line[0] == '{') {
      json::error_code ec;
      json::value v = json::parse(line, ec);
      if (ec || !v.is_object()) {
        return core::Fail(
            core::InvalidArgument(where + "not a JSON object (" +
                                  (ec ? ec.message() : "not an object") + ")"));
      }
      const json::object& o = v.get_object();
      if (std::string id = Str(o, "run_id");
          !id.empty() &&
          std::find(run_ids.begin(), run_ids.end(), id) == run_ids.end()) {
        run_ids.push_back(std::move(id));
      }
      if (Str(o, "status") == "same") continue;
      const std::string dir_check = Str(o, "dir_check");
      std::string path = Str(o, "path");
      if (const std::string b64 = Str(o, "path_b64"); !b64.empty()) {
        auto bytes = auth::Base64Decode(b64);
        if (!bytes) {
          return core::Fail(
              core::InvalidArgument(where + "path_b64 is not base64"));
        }
        path = std::move(*bytes);
      }
      if (dir_check.empty() || path.empty()) {
        return core::Fail(
            core::InvalidArgument(where + "needs dir_check and path"));
      }
      out.Add(dir_check, path);
      continue;
    }
    std::string_view text = line;
    if (text.size() >= 2 && text[1] == ' ' &&
        kSigils.find(text[0]) != std::string_view::npos) {
      if (text[0] == '=') continue;
      text.remove_prefix(2);
    }
    auto path = UnescapeListPath(text);
    if (!path) {
      return core::Fail(core::InvalidArgument(where + path.error().message));
    }
    out.AddRootRelative(*path);
  }
  if (in.bad()) {
    return core::Fail(core::ErrnoError("--only-paths " + file, errno));
  }
  return run_ids;
}

std::string EncodePathSets(const PathSets& sets) {
  std::string out;
  for (const auto& [dir, paths] : sets) {
    if (paths.empty()) {
      // A section with nothing to check still travels.
      out += dir;
      out += '\0';
      out += '\0';
    }
    for (const auto& p : paths) {
      out += dir;
      out += '\0';
      out += p;
      out += '\0';
    }
  }
  return out;
}

core::Result<PathSets> DecodePathSets(std::string_view bytes) {
  PathSets out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t a = bytes.find('\0', pos);
    const size_t b = a == std::string_view::npos ? a : bytes.find('\0', a + 1);
    if (b == std::string_view::npos) {
      return core::Fail(core::InvalidArgument(
          "--only-paths -: the list on stdin ends inside a record"));
    }
    auto& paths = out[std::string(bytes.substr(pos, a - pos))];
    if (b > a + 1) paths.emplace_back(bytes.substr(a + 1, b - a - 1));
    pos = b + 1;
  }
  for (auto& [dir, paths] : out) {
    std::sort(paths.begin(), paths.end(),
              [](const std::string& x, const std::string& y) {
                return core::ComparePaths(x, y) < 0;
              });
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  }
  return out;
}

}  // namespace sms::agent
