// FakeClock: time that moves only when told to (SleepFor advances it), so
// tests of rate limits and timeouts never sleep.
// Thread-safety: safe for concurrent use.
#pragma once

#include <mutex>

#include "core/clock.h"

namespace sms::testing {

class FakeClock final : public core::Clock {
 public:
  TimePoint Now() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  int64_t NowEpochMillis() override {
    std::lock_guard<std::mutex> lock(mu_);
    return 1'700'000'000'000 +
           std::chrono::duration_cast<std::chrono::milliseconds>(
               now_.time_since_epoch())
               .count();
  }
  void SleepFor(Duration d) override { Advance(d); }
  void Advance(Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
    slept_ += d;
  }
  // Total time spent in SleepFor/Advance.
  Duration slept() {
    std::lock_guard<std::mutex> lock(mu_);
    return slept_;
  }

 private:
  std::mutex mu_;
  TimePoint now_{Duration(1'000'000'000)};
  Duration slept_{0};
};

}  // namespace sms::testing
