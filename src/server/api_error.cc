#include "server/api_error.h"

namespace sms::server {

int HttpStatus(ApiCode code) {
  switch (code) {
    case ApiCode::kMissing:
    case ApiCode::kMalformed:
    case ApiCode::kBadJson:
    case ApiCode::kBadState:
      return 400;
    case ApiCode::kMethodNotAllowed:
      return 405;
    case ApiCode::kUriTooLong:
      return 414;
    case ApiCode::kHeadersTooLarge:
      return 431;
    case ApiCode::kNoCredentials:
    case ApiCode::kBadToken:
    case ApiCode::kBadSignature:
    case ApiCode::kForbidden:
      return 403;
    case ApiCode::kNotFound:
      return 404;
    case ApiCode::kConflict:
      return 409;
    case ApiCode::kTooLarge:
      return 413;
    case ApiCode::kUnsupportedMedia:
      return 415;
    case ApiCode::kTooManyRequests:
      return 429;
    case ApiCode::kInternal:
      return 500;
    case ApiCode::kUnavailable:
      return 503;
  }
  return 500;
}

std::string_view SmsCode(ApiCode code) {
  switch (code) {
    case ApiCode::kMissing:
      return "SMS.1001";
    case ApiCode::kMalformed:
    case ApiCode::kMethodNotAllowed:
    case ApiCode::kUriTooLong:
      return "SMS.1002";
    case ApiCode::kBadJson:
      return "SMS.1003";
    case ApiCode::kBadState:
      return "SMS.1004";
    case ApiCode::kNoCredentials:
      return "SMS.9001";
    case ApiCode::kBadToken:
      return "SMS.9002";
    case ApiCode::kBadSignature:
      return "SMS.9003";
    case ApiCode::kForbidden:
      return "SMS.9004";
    case ApiCode::kNotFound:
      return "SMS.2252";
    case ApiCode::kConflict:
      return "SMS.1005";
    case ApiCode::kTooLarge:
    case ApiCode::kHeadersTooLarge:
      return "SMS.1006";
    case ApiCode::kUnsupportedMedia:
      return "SMS.1007";
    case ApiCode::kTooManyRequests:
      return "SMS.9010";
    case ApiCode::kInternal:
      return "SMS.2007";
    case ApiCode::kUnavailable:
      return "SMS.2008";
  }
  return "SMS.2007";
}

ApiError FromStore(const core::Error& e, std::string_view not_found) {
  using core::ErrorCode;
  switch (e.code) {
    case ErrorCode::kNotFound:
      return {ApiCode::kNotFound, std::string(not_found), e.message, 0};
    case ErrorCode::kAlreadyExists:
      return {ApiCode::kConflict, "conflict with an existing record", e.message,
              0};
    case ErrorCode::kFailedPrecondition:
      return {ApiCode::kBadState,
              "the operation is not valid in the current state", e.message, 0};
    case ErrorCode::kUnavailable:
      return {ApiCode::kUnavailable, "storage unavailable, retry later",
              e.message, 1};
    default:
      return {ApiCode::kInternal, "internal error", e.ToString(), 0};
  }
}

}  // namespace sms::server
