#include "server/api_error.h"

#include <gtest/gtest.h>

namespace sms::server {
namespace {

TEST(ApiErrorTest, EveryCodeMapsToTheContractRow) {
  struct Row {
    ApiCode code;
    int status;
    const char* sms;
  };
  const Row rows[] = {
      {ApiCode::kMissing, 400, "SMS.1001"},
      {ApiCode::kMalformed, 400, "SMS.1002"},
      {ApiCode::kBadJson, 400, "SMS.1003"},
      {ApiCode::kBadState, 400, "SMS.1004"},
      {ApiCode::kMethodNotAllowed, 405, "SMS.1002"},
      {ApiCode::kNoCredentials, 403, "SMS.9001"},
      {ApiCode::kBadToken, 403, "SMS.9002"},
      {ApiCode::kBadSignature, 403, "SMS.9003"},
      {ApiCode::kForbidden, 403, "SMS.9004"},
      {ApiCode::kNotFound, 404, "SMS.2252"},
      {ApiCode::kConflict, 409, "SMS.1005"},
      {ApiCode::kTooLarge, 413, "SMS.1006"},
      {ApiCode::kUriTooLong, 414, "SMS.1002"},
      {ApiCode::kUnsupportedMedia, 415, "SMS.1007"},
      {ApiCode::kTooManyRequests, 429, "SMS.9010"},
      {ApiCode::kHeadersTooLarge, 431, "SMS.1006"},
      {ApiCode::kInternal, 500, "SMS.2007"},
      {ApiCode::kUnavailable, 503, "SMS.2008"},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(HttpStatus(r.code), r.status) << r.sms;
    EXPECT_EQ(SmsCode(r.code), r.sms);
  }
  // Every code has its row (a new code must be added to the table above).
  EXPECT_EQ(std::size(rows), std::size(kApiCodes));
  for (size_t i = 0; i < std::size(rows); ++i)
    EXPECT_EQ(rows[i].code, kApiCodes[i]) << rows[i].sms;
}

TEST(ApiErrorTest, StoreErrorsKeepInternalsOutOfTheMessage) {
  ApiError e = FromStore(
      core::Internal("prepare: SQL logic error (no such table: runs)"), "x");
  EXPECT_EQ(e.code, ApiCode::kInternal);
  EXPECT_EQ(e.message, "internal error");
  EXPECT_NE(e.internal.find("no such table"), std::string::npos);

  ApiError busy = FromStore(core::Unavailable("query: database is locked"), "");
  EXPECT_EQ(busy.code, ApiCode::kUnavailable);
  EXPECT_GT(busy.retry_after_s, 0);
  EXPECT_EQ(busy.message.find("locked"), std::string::npos);

  ApiError missing =
      FromStore(core::NotFound("task not found"), "The task does not exist.");
  EXPECT_EQ(missing.code, ApiCode::kNotFound);
  EXPECT_EQ(missing.message, "The task does not exist.");
}

}  // namespace
}  // namespace sms::server
