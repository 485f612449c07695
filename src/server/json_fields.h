// JSON field helpers: strict parsing of request bodies with Boost.JSON, and
// typed field accessors whose errors name the field and the limit
// ("consistency_result[3].dir_check: longer than 4096 bytes").
// No exceptions escape: Boost.JSON is used through its error_code API.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/api_error.h"

namespace sms::server {

namespace json = boost::json;

// Parses a request body: valid UTF-8 JSON, nesting at most 64 levels
// (400 SMS.1003 otherwise).
[[nodiscard]] ApiResult<json::value> ParseJsonBody(std::string_view body);
// Parses a request body that must be a JSON object.
[[nodiscard]] ApiResult<json::object> ParseJsonObject(std::string_view body);

// `path` is the field's name in messages ("target_server.name").
[[nodiscard]] ApiResult<std::optional<std::string>> OptString(
    const json::object& o, std::string_view key, std::string_view path,
    size_t min_len, size_t max_len);
[[nodiscard]] ApiResult<std::string> ReqString(const json::object& o,
                                               std::string_view key,
                                               std::string_view path,
                                               size_t min_len, size_t max_len);
[[nodiscard]] ApiResult<std::optional<int64_t>> OptInt(const json::object& o,
                                                       std::string_view key,
                                                       std::string_view path,
                                                       int64_t min,
                                                       int64_t max);
[[nodiscard]] ApiResult<int64_t> ReqInt(const json::object& o,
                                        std::string_view key,
                                        std::string_view path, int64_t min,
                                        int64_t max);
[[nodiscard]] ApiResult<std::optional<bool>> OptBool(const json::object& o,
                                                     std::string_view key,
                                                     std::string_view path);
// nullptr when absent.
[[nodiscard]] ApiResult<const json::object*> OptObject(const json::object& o,
                                                       std::string_view key,
                                                       std::string_view path);
[[nodiscard]] ApiResult<const json::object*> ReqObject(const json::object& o,
                                                       std::string_view key,
                                                       std::string_view path);
[[nodiscard]] ApiResult<const json::array*> OptArray(const json::object& o,
                                                     std::string_view key,
                                                     std::string_view path,
                                                     size_t max_items);
[[nodiscard]] ApiResult<const json::array*> ReqArray(const json::object& o,
                                                     std::string_view key,
                                                     std::string_view path,
                                                     size_t min_items,
                                                     size_t max_items);
// The element `v` must be an object.
[[nodiscard]] ApiResult<const json::object*> AsObject(const json::value& v,
                                                      std::string_view path);

// Checks a string is one of `allowed`.
[[nodiscard]] ApiStatus CheckEnum(
    const std::string& value, std::string_view path,
    std::initializer_list<std::string_view> allowed);

// Parses a query integer parameter ("limit") in [min, max].
[[nodiscard]] ApiResult<int64_t> ParseQueryInt(std::string_view text,
                                               std::string_view name,
                                               int64_t min, int64_t max);

// Serialises with Boost.JSON.
std::string ToJson(const json::value& v);

}  // namespace sms::server
