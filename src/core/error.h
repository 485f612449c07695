// Error: the value every fallible function of the project returns on failure.
//
// A small, closed set of codes (absl-like) plus a message meant for a human.
// Mismatching files are not errors: an Error means "could not decide".
// Thread-safety: a plain value type.
#pragma once

#include <string>
#include <string_view>

namespace sms::core {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kPermissionDenied,
  kUnavailable,
  kIo,
  kDataLoss,
  kCancelled,
  kInternal,
};

// ErrorCodeName() returns the stable name of `code` ("InvalidArgument").
std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // Returns "Name: message".
  std::string ToString() const;
};

// Factories, one per code.
Error InvalidArgument(std::string message);
Error NotFound(std::string message);
Error AlreadyExists(std::string message);
Error FailedPrecondition(std::string message);
Error PermissionDenied(std::string message);
Error Unavailable(std::string message);
Error IoError(std::string message);
Error DataLoss(std::string message);
Error Cancelled(std::string message);
Error Internal(std::string message);

// ErrnoError() builds an error for a failed system call on `what` (a path or
// an operation), naming the errno text: "open /etc/shadow: Permission denied".
Error ErrnoError(std::string_view what, int err);

// ErrnoText() returns strerror(err), thread-safely.
std::string ErrnoText(int err);

}  // namespace sms::core
