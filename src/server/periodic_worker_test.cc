// PeriodicWorker, the loop of the scheduler, retention and webhook workers:
// a tick with more work waiting runs again at once, an idle one waits the
// interval, and Stop() wakes a long wait and ends a worker that is never
// idle. The wait is on the real clock (core::Clock has no wait that Stop
// could wake), so intervals here are either tiny or an hour that Stop cuts
// short.
#include "server/periodic_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace sms::server {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(PeriodicWorkerTest, TicksAgainAtOnceWhileMoreIsWaiting) {
  PeriodicWorker worker(hours(1));
  std::promise<void> fourth;
  int ticks = 0;  // on the worker's thread only
  worker.Start([&] {
    ++ticks;
    if (ticks == 4) fourth.set_value();
    return ticks < 4;  // three busy ticks, then idle for an hour
  });
  ASSERT_EQ(fourth.get_future().wait_for(seconds(10)),
            std::future_status::ready)
      << "a tick with more waiting must not wait the interval";
  const Steady::time_point stop_at = Steady::now();
  worker.Stop();
  EXPECT_LT(Steady::now() - stop_at, seconds(10)) << "Stop must cut the wait";
  EXPECT_EQ(ticks, 4);
}

TEST(PeriodicWorkerTest, WaitsTheIntervalBetweenIdleTicks) {
  const milliseconds interval(40);
  PeriodicWorker worker(interval);
  std::mutex mu;
  std::vector<Steady::time_point> at;
  std::promise<void> third;
  worker.Start([&] {
    std::lock_guard lock(mu);
    at.push_back(Steady::now());
    if (at.size() == 3) third.set_value();
    return false;
  });
  ASSERT_EQ(third.get_future().wait_for(seconds(10)),
            std::future_status::ready);
  worker.Stop();
  std::lock_guard lock(mu);
  ASSERT_GE(at.size(), 3u);
  for (size_t i = 1; i < at.size(); ++i) {
    EXPECT_GE(at[i] - at[i - 1], interval) << "tick " << i;
  }
}

TEST(PeriodicWorkerTest, StopEndsAWorkerThatIsNeverIdle) {
  PeriodicWorker worker(hours(1));
  std::atomic<int> ticks = 0;
  worker.Start([&] {
    ++ticks;
    return true;  // a backlog that never drains
  });
  while (ticks.load() < 3) std::this_thread::yield();
  worker.Stop();
  const int after_stop = ticks.load();
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(ticks.load(), after_stop) << "no tick after Stop returned";
}

TEST(PeriodicWorkerTest, SleepReturnsTrueOnlyWhenStopped) {
  PeriodicWorker worker(hours(1));
  EXPECT_FALSE(worker.Sleep(milliseconds(1)));
  auto sleeper =
      std::async(std::launch::async, [&] { return worker.Sleep(hours(1)); });
  std::this_thread::sleep_for(milliseconds(20));
  worker.Stop();  // never started: stops the sleeper all the same
  ASSERT_EQ(sleeper.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_TRUE(sleeper.get());
  EXPECT_TRUE(worker.Sleep(hours(1))) << "once stopped, Sleep does not wait";
  worker.Stop();  // twice is fine
}

}  // namespace
}  // namespace sms::server
