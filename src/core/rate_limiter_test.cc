#include "core/rate_limiter.h"

#include <gtest/gtest.h>

#include "testing/fake_clock.h"

namespace sms::core {
namespace {

using std::chrono::milliseconds;

TEST(RateLimiterTest, ReadingAtTheCapTakesTheExpectedTime) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, 10'000'000);                    // 10 MB/s
  for (int i = 0; i < 100; ++i) limiter.Acquire(1'000'000);  // 100 MB
  // 10 s of budget, less the quarter-second burst allowance.
  const auto slept = clock.slept();
  EXPECT_GE(slept, milliseconds(9'700));
  EXPECT_LE(slept, milliseconds(10'000));
}

TEST(RateLimiterTest, ZeroMeansUnlimited) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, 0);
  limiter.Acquire(1ull << 40);
  EXPECT_EQ(clock.slept(), Clock::Duration(0));
}

TEST(RateLimiterTest, IdleTimeIsNotBankedBeyondTheBurst) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, 1'000'000);    // 1 MB/s
  clock.Advance(std::chrono::seconds(60));  // idle for a minute
  const auto before = clock.slept();
  limiter.Acquire(2'000'000);  // 2 MB right after: ~1.75 s of waiting
  EXPECT_GE(clock.slept() - before, milliseconds(1'700));
}

}  // namespace
}  // namespace sms::core
