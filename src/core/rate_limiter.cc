#include "core/rate_limiter.h"

namespace sms::core {

RateLimiter::RateLimiter(Clock& clock, uint64_t bytes_per_second)
    : clock_(clock), rate_(bytes_per_second), next_free_(clock.Now()) {}

void RateLimiter::Acquire(uint64_t bytes) {
  if (rate_ == 0 || bytes == 0) return;
  const auto cost = std::chrono::nanoseconds(
      static_cast<int64_t>(static_cast<long double>(bytes) * 1e9L / rate_));
  const auto burst = std::chrono::milliseconds(250);
  Clock::TimePoint wait_until;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = clock_.Now();
    if (next_free_ < now - burst) next_free_ = now - burst;
    next_free_ += cost;
    wait_until = next_free_;
  }
  const auto now = clock_.Now();
  if (wait_until > now) clock_.SleepFor(wait_until - now);
}

}  // namespace sms::core
