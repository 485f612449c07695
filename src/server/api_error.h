// ApiError: the errors of the HTTP API (spec/API.md §1), as values.
//
// ApiCode is one row of the error table; HttpStatus() and SmsCode() are the
// one place that maps a code to its status and "SMS.nnnn". The transport's
// own refusals (a target or headers too long, before the Api sees the
// request) take their status from here too: HttpStatus(kUriTooLong) etc.
// `message` is safe to send to the client; `internal` goes only to the server
// log.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <type_traits>

#include "core/error.h"
#include "core/result.h"

namespace sms::server {

enum class ApiCode {
  kMissing,           // 400 SMS.1001
  kMalformed,         // 400 SMS.1002
  kBadJson,           // 400 SMS.1003
  kBadState,          // 400 SMS.1004
  kMethodNotAllowed,  // 405 SMS.1002 (the method, not the path, is wrong)
  kNoCredentials,     // 403 SMS.9001
  kBadToken,          // 403 SMS.9002
  kBadSignature,      // 403 SMS.9003
  kForbidden,         // 403 SMS.9004
  kNotFound,          // 404 SMS.2252
  kConflict,          // 409 SMS.1005
  kTooLarge,          // 413 SMS.1006
  kUriTooLong,        // 414 SMS.1002
  kUnsupportedMedia,  // 415 SMS.1007
  kTooManyRequests,   // 429 SMS.9010
  kHeadersTooLarge,   // 431 SMS.1006
  kInternal,          // 500 SMS.2007
  kUnavailable,       // 503 SMS.2008
};

struct ApiError {
  ApiCode code = ApiCode::kInternal;
  std::string message;
  std::string internal;   // for the log only
  int retry_after_s = 0;  // > 0: send Retry-After
};

template <typename T>
using ApiResult = tl::expected<T, ApiError>;
using ApiStatus = ApiResult<void>;

// Every code, in declaration order (the map's test walks them all).
inline constexpr ApiCode kApiCodes[] = {
    ApiCode::kMissing,          ApiCode::kMalformed,
    ApiCode::kBadJson,          ApiCode::kBadState,
    ApiCode::kMethodNotAllowed, ApiCode::kNoCredentials,
    ApiCode::kBadToken,         ApiCode::kBadSignature,
    ApiCode::kForbidden,        ApiCode::kNotFound,
    ApiCode::kConflict,         ApiCode::kTooLarge,
    ApiCode::kUriTooLong,       ApiCode::kUnsupportedMedia,
    ApiCode::kTooManyRequests,  ApiCode::kHeadersTooLarge,
    ApiCode::kInternal,         ApiCode::kUnavailable};

// The HTTP status of `code`: the only ApiCode -> status map.
int HttpStatus(ApiCode code);
std::string_view SmsCode(ApiCode code);

inline tl::unexpected<ApiError> ApiFail(ApiCode code, std::string message) {
  return tl::unexpected<ApiError>(ApiError{code, std::move(message), "", 0});
}

// Field validation errors name the field: Missing("task_id") ->
// "task_id: is required".
inline tl::unexpected<ApiError> Missing(std::string_view field) {
  return ApiFail(ApiCode::kMissing, std::string(field) + ": is required");
}
inline tl::unexpected<ApiError> Malformed(std::string_view field,
                                          std::string_view why) {
  return ApiFail(ApiCode::kMalformed,
                 std::string(field) + ": " + std::string(why));
}

// Converts a storage error. `not_found` is the public message for kNotFound
// ("the task does not exist"); other codes get generic public messages and
// keep the store's message as `internal`.
ApiError FromStore(const core::Error& e, std::string_view not_found);
inline tl::unexpected<ApiError> StoreFail(const core::Error& e,
                                          std::string_view not_found) {
  return tl::unexpected<ApiError>(FromStore(e, not_found));
}

// A store result as an API result, so a service propagates it with
// SMS_ASSIGN_OR_RETURN(storage::Task t, FromStore(store_.GetTask(...),
// kTaskNotFound)) like any other.
template <typename T>
ApiResult<T> FromStore(core::Result<T> r, std::string_view not_found) {
  if (!r) return StoreFail(r.error(), not_found);
  if constexpr (std::is_void_v<T>) {
    return {};
  } else {
    return std::move(r).value();
  }
}

}  // namespace sms::server
