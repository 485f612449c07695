// Clock: the seam for time. Production code asks a Clock, tests advance a
// FakeClock (src/testing/fake_clock.h) and never sleep.
// Thread-safety: implementations are safe for concurrent use.
#pragma once

#include <chrono>
#include <cstdint>

namespace sms::core {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint =
      std::chrono::time_point<std::chrono::steady_clock, Duration>;

  virtual ~Clock() = default;
  // Monotonic time, for intervals and rate limits.
  virtual TimePoint Now() = 0;
  // Wall-clock time in milliseconds since the epoch, for reports.
  virtual int64_t NowEpochMillis() = 0;
  // Blocks the caller for `d` (a fake clock advances instead).
  virtual void SleepFor(Duration d) = 0;
};

// SystemClock() returns the process-wide real clock.
Clock& SystemClock();

}  // namespace sms::core
