#include "core/error.h"

#include <errno.h>
#include <string.h>

#include <utility>

namespace sms::core {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kAlreadyExists:
      return "AlreadyExists";
    case ErrorCode::kFailedPrecondition:
      return "FailedPrecondition";
    case ErrorCode::kPermissionDenied:
      return "PermissionDenied";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kIo:
      return "Io";
    case ErrorCode::kDataLoss:
      return "DataLoss";
    case ErrorCode::kCancelled:
      return "Cancelled";
    case ErrorCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Error::ToString() const {
  std::string s(ErrorCodeName(code));
  s += ": ";
  s += message;
  return s;
}

Error InvalidArgument(std::string m) {
  return {ErrorCode::kInvalidArgument, std::move(m)};
}
Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
Error AlreadyExists(std::string m) {
  return {ErrorCode::kAlreadyExists, std::move(m)};
}
Error FailedPrecondition(std::string m) {
  return {ErrorCode::kFailedPrecondition, std::move(m)};
}
Error PermissionDenied(std::string m) {
  return {ErrorCode::kPermissionDenied, std::move(m)};
}
Error Unavailable(std::string m) {
  return {ErrorCode::kUnavailable, std::move(m)};
}
Error IoError(std::string m) { return {ErrorCode::kIo, std::move(m)}; }
Error DataLoss(std::string m) { return {ErrorCode::kDataLoss, std::move(m)}; }
Error Cancelled(std::string m) { return {ErrorCode::kCancelled, std::move(m)}; }
Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r returns the message, possibly not in buf.
  const char* text = strerror_r(err, buf, sizeof(buf));
  return text;
}

Error ErrnoError(std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += ErrnoText(err);
  ErrorCode code = ErrorCode::kIo;
  if (err == ENOENT || err == ENOTDIR) code = ErrorCode::kNotFound;
  if (err == EACCES || err == EPERM) code = ErrorCode::kPermissionDenied;
  return {code, std::move(message)};
}

}  // namespace sms::core
