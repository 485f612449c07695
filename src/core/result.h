// Result<T>: a T or an Error (tl::expected; std::expected once on C++23).
//
// Propagation helpers are the project's only error macros:
//   SMS_RETURN_IF_ERROR(status_expr);
//   SMS_ASSIGN_OR_RETURN(auto value, result_expr);
#pragma once

#include <tl/expected.hpp>

#include "core/error.h"

namespace sms::core {

template <typename T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> Fail(Error e) {
  return tl::unexpected<Error>(std::move(e));
}
inline Status Ok() { return {}; }

}  // namespace sms::core

#define SMS_CONCAT_INNER_(a, b) a##b
#define SMS_CONCAT_(a, b) SMS_CONCAT_INNER_(a, b)

#define SMS_RETURN_IF_ERROR(expr)                                   \
  do {                                                              \
    auto sms_status_ = (expr);                                      \
    if (!sms_status_) return ::tl::unexpected(sms_status_.error()); \
  } while (0)

#define SMS_ASSIGN_OR_RETURN(lhs, expr) \
  SMS_ASSIGN_OR_RETURN_IMPL_(SMS_CONCAT_(sms_result_, __LINE__), lhs, expr)

#define SMS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)           \
  auto tmp = (expr);                                         \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(tmp).value()
