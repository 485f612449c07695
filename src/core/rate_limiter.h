// RateLimiter: caps the bytes per second read by one side of a verification
// (the `--io-limit` knob), shared by all hash workers of that side.
// Token bucket with a burst of a quarter second; time comes from a Clock.
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <mutex>

#include "core/clock.h"

namespace sms::core {

class RateLimiter final {
 public:
  // `bytes_per_second` == 0 means no limit.
  RateLimiter(Clock& clock, uint64_t bytes_per_second);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Blocks until `bytes` more may be read.
  void Acquire(uint64_t bytes);

 private:
  Clock& clock_;
  const uint64_t rate_;
  std::mutex mu_;
  Clock::TimePoint next_free_;  // Guarded by mu_.
};

}  // namespace sms::core
