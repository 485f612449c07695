#include "core/error.h"

#include <errno.h>
#include <gtest/gtest.h>

#include "core/result.h"

namespace sms::core {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Fail(InvalidArgument("odd value"));
  return v / 2;
}

Result<int> Quarter(int v) {
  SMS_ASSIGN_OR_RETURN(int half, Half(v));
  SMS_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(ErrorTest, ErrnoErrorNamesPathAndText) {
  Error e = ErrnoError("open /x", ENOENT);
  EXPECT_EQ(e.code, ErrorCode::kNotFound);
  EXPECT_EQ(e.message, "open /x: No such file or directory");
  EXPECT_EQ(ErrnoError("open /y", EACCES).code, ErrorCode::kPermissionDenied);
}

TEST(ErrorTest, MacrosPropagateTheFirstError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "odd value");
  EXPECT_EQ(r.error().ToString(), "InvalidArgument: odd value");
}

}  // namespace
}  // namespace sms::core
