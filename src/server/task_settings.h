// The task settings (POST /v3/tasks/{id}/configuration-setting): which keys
// exist, what each accepts, and the check they configure. The rules are
// here once; the codec applies them to a request, the command loop reads
// the stored values back into a CheckSettings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_error.h"
#include "storage/store.h"

namespace sms::server {

// CONSISTENCY_SCHEDULE (issue 13.1): when the server runs the check by
// itself, a cron expression or "@every DURATION" (schedule/schedule.h);
// empty: no schedule.
inline constexpr char kScheduleSetting[] = "CONSISTENCY_SCHEDULE";

// The stored value of `key`, or "" when it is not set.
[[nodiscard]] std::string SettingValue(
    const std::vector<storage::ConfigEntry>& entries, std::string_view key);

// Splits CONSISTENCY_DIR, drops directories whose ancestor is listed too,
// and checks each is absolute (field named `path` in errors).
[[nodiscard]] ApiResult<std::vector<std::string>> SplitConsistencyDirs(
    const std::string& value, std::string_view path);

// Checks one setting: `key` must be a known CONSISTENCY_* key (else an
// error naming `key_path`) and `value` valid for it (else naming
// `value_path`).
[[nodiscard]] ApiStatus CheckSetting(const std::string& key,
                                     const std::string& value,
                                     std::string_view key_path,
                                     std::string_view value_path);

// A consistency check as the task's settings configure it.
struct CheckSettings {
  std::vector<std::string> dirs;  // empty: CONSISTENCY_DIR is not set
  std::string mode = "hash";
  std::string hash_algorithm = "xxh128";
  std::vector<std::string> exclude;
  int64_t io_limit = 0;  // MB/s, 0: unlimited
  // CONSISTENCY_CACHE and CONSISTENCY_PUSH_AGENT ("on"/"off"); nullopt when
  // not set, so the agent's own setting applies.
  std::optional<bool> cache;
  std::optional<bool> push_agent;
};

// Reads the stored settings (an invalid CONSISTENCY_DIR is an error naming
// CONSISTENCY_DIR; other values were checked when they were set).
[[nodiscard]] ApiResult<CheckSettings> ResolveCheckSettings(
    const std::vector<storage::ConfigEntry>& entries);

}  // namespace sms::server
