#include "core/clock.h"

#include <thread>

namespace sms::core {
namespace {

class RealClock final : public Clock {
 public:
  TimePoint Now() override {
    return std::chrono::time_point_cast<Duration>(
        std::chrono::steady_clock::now());
  }
  int64_t NowEpochMillis() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void SleepFor(Duration d) override { std::this_thread::sleep_for(d); }
};

}  // namespace

Clock& SystemClock() {
  static RealClock clock;
  return clock;
}

}  // namespace sms::core
