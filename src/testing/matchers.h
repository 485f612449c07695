// Matchers for Result and Status (core/result.h): a failing expectation
// prints the error's code and message, where ASSERT_TRUE(result) prints
// only "false".
//
//   EXPECT_THAT(store->CreateTask(t), IsOk());
//   EXPECT_THAT(store->GetTask("d1", "nope"), HasCode(ErrorCode::kNotFound));
//   ASSERT_THAT(store->CreateDomain(d), IsOk());  // stops the test
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "core/error.h"
#include "core/result.h"

namespace sms::testing {

// Matches a Result or Status that holds a value.
MATCHER(IsOk, "is OK") {
  if (arg.has_value()) return true;
  *result_listener << "failed with " << arg.error().ToString();
  return false;
}

// Matches a Result or Status that failed with `code`.
MATCHER_P(HasCode, code,
          std::string(negation ? "does not fail" : "fails") + " with " +
              std::string(::sms::core::ErrorCodeName(code))) {
  if (arg.has_value()) {
    *result_listener << "is OK";
    return false;
  }
  *result_listener << "failed with " << arg.error().ToString();
  return arg.error().code == code;
}

}  // namespace sms::testing
