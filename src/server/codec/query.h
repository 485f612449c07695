// Query-string parameters of the list routes, already split by ParseQuery
// ("limit" -> "10"), read into typed values with errors that name the
// parameter ("limit: must be between 0 and 200").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "server/api_error.h"

namespace sms::server {

using QueryParams = std::map<std::string, std::string>;

// The parameter `key`, at most `max_len` bytes, or nullopt when absent.
[[nodiscard]] ApiResult<std::optional<std::string>> QueryString(
    const QueryParams& q, const std::string& key, size_t max_len);

// The integer parameter `key` in [min, max], or `def` when absent.
[[nodiscard]] ApiResult<int64_t> QueryInt(const QueryParams& q,
                                          const std::string& key, int64_t def,
                                          int64_t min, int64_t max);

struct Paging {
  int limit = 100;
  int offset = 0;
};

// A list's paging: limit 0..200 (default 100), offset 0..2^31-1.
[[nodiscard]] ApiResult<Paging> DecodePaging(const QueryParams& q);

}  // namespace sms::server
