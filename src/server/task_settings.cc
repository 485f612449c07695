#include "server/task_settings.h"

#include <algorithm>
#include <map>

#include "core/dir_list.h"
#include "core/strings.h"
#include "schedule/readiness.h"
#include "schedule/schedule.h"
#include "server/json_fields.h"
#include "server/retention.h"

namespace sms::server {

std::string SettingValue(const std::vector<storage::ConfigEntry>& entries,
                         std::string_view key) {
  for (const storage::ConfigEntry& e : entries)
    if (e.key == key) return e.value;
  return "";
}

ApiResult<std::vector<std::string>> SplitConsistencyDirs(
    const std::string& value, std::string_view path) {
  std::vector<std::string> dirs = core::SplitList(value);
  if (dirs.empty()) return Malformed(path, "lists no directory");
  if (dirs.size() > 30) return Malformed(path, "more than 30 directories");
  for (std::string& d : dirs) {
    if (d.front() != '/')
      return Malformed(path, "\"" + d + "\" is not an absolute path");
    if (d.size() > 4096) return Malformed(path, "longer than 4096 bytes");
    if (d.find('\0') != std::string::npos)
      return Malformed(path, "contains NUL");
    // As the agent will read it ("/var//www/." is "/var/www"), so the
    // directories of the task and of its runs are the same strings; a ".."
    // the agent refuses is refused here, not in a failed run.
    auto normal = core::NormalizeDirs({d});
    if (!normal) return Malformed(path, normal.error().message);
    d = normal->front();
  }
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  std::vector<std::string> out;
  for (const std::string& d : dirs) {
    bool covered = false;
    for (const std::string& p : out) {
      if (p == "/" || (d.size() > p.size() && d.compare(0, p.size(), p) == 0 &&
                       d[p.size()] == '/')) {
        covered = true;
        break;
      }
    }
    if (!covered) out.push_back(d);
  }
  return out;
}

ApiStatus CheckSetting(const std::string& key, const std::string& value,
                       std::string_view key_path, std::string_view value_path) {
  if (key == "CONSISTENCY_DIR") {
    SMS_RETURN_IF_ERROR(SplitConsistencyDirs(value, value_path));
  } else if (key == "CONSISTENCY_MODE") {
    SMS_RETURN_IF_ERROR(CheckEnum(value, value_path, {"hash", "quick"}));
  } else if (key == "CONSISTENCY_HASH") {
    SMS_RETURN_IF_ERROR(CheckEnum(value, value_path, {"xxh128", "sha256"}));
  } else if (key == "CONSISTENCY_EXCLUDE") {
    if (value.size() > 4096)
      return Malformed(value_path, "longer than 4096 bytes");
    if (core::SplitList(value).size() > 100)
      return Malformed(value_path, "more than 100 patterns");
  } else if (key == "CONSISTENCY_IO_LIMIT") {
    SMS_RETURN_IF_ERROR(ParseQueryInt(value, value_path, 0, 100000));
  } else if (key == "CONSISTENCY_CACHE" || key == "CONSISTENCY_PUSH_AGENT") {
    SMS_RETURN_IF_ERROR(CheckEnum(value, value_path, {"on", "off"}));
  } else if (key == "CONSISTENCY_RETENTION") {  // issue 13.5
    if (auto p = ParseRetention(value); !p)
      return Malformed(value_path, p.error().message);
  } else if (key == "CONSISTENCY_READY_RUNS") {  // issue 13.3
    if (!core::TrimSpace(value).empty()) {
      if (auto n = schedule::ParseReadyRuns(value); !n)
        return Malformed(value_path, n.error().message);
    }
  } else if (key == "CONSISTENCY_READY_MAX_AGE") {
    if (auto age = schedule::ParseMaxAge(value); !age)
      return Malformed(value_path, age.error().message);
  } else if (key == kScheduleSetting) {  // issue 13.1
    // The syntax here; the server's minimum interval in TaskService.
    if (!core::TrimSpace(value).empty()) {
      if (auto p = schedule::ParseSchedule(value, /*min_every_ms=*/1); !p)
        return Malformed(value_path, p.error().message);
    }
  } else {
    return Malformed(key_path,
                     "must be one of CONSISTENCY_DIR, CONSISTENCY_MODE, "
                     "CONSISTENCY_EXCLUDE, CONSISTENCY_HASH, "
                     "CONSISTENCY_IO_LIMIT, CONSISTENCY_CACHE, "
                     "CONSISTENCY_PUSH_AGENT, CONSISTENCY_RETENTION, "
                     "CONSISTENCY_SCHEDULE, CONSISTENCY_READY_RUNS, "
                     "CONSISTENCY_READY_MAX_AGE");
  }
  return {};
}

ApiResult<CheckSettings> ResolveCheckSettings(
    const std::vector<storage::ConfigEntry>& entries) {
  std::map<std::string, std::string> cfg;
  for (const auto& e : entries) cfg[e.key] = e.value;
  CheckSettings s;
  if (!cfg["CONSISTENCY_DIR"].empty()) {
    SMS_ASSIGN_OR_RETURN(s.dirs, SplitConsistencyDirs(cfg["CONSISTENCY_DIR"],
                                                      "CONSISTENCY_DIR"));
  }
  if (!cfg["CONSISTENCY_MODE"].empty()) s.mode = cfg["CONSISTENCY_MODE"];
  if (!cfg["CONSISTENCY_HASH"].empty())
    s.hash_algorithm = cfg["CONSISTENCY_HASH"];
  s.exclude = core::SplitList(cfg["CONSISTENCY_EXCLUDE"]);
  if (!cfg["CONSISTENCY_IO_LIMIT"].empty()) {
    // Checked when set; a value that no longer parses means unlimited.
    auto n = ParseQueryInt(cfg["CONSISTENCY_IO_LIMIT"], "CONSISTENCY_IO_LIMIT",
                           0, 100000);
    if (n) s.io_limit = *n;
  }
  auto on_off = [&cfg](const char* key) -> std::optional<bool> {
    const std::string& v = cfg[key];
    if (v == "on") return true;
    if (v == "off") return false;
    return std::nullopt;  // not set: the agent's own setting
  };
  s.cache = on_off("CONSISTENCY_CACHE");
  s.push_agent = on_off("CONSISTENCY_PUSH_AGENT");
  return s;
}

}  // namespace sms::server
