// PeriodicWorker: the background loop of the server's workers (scheduler,
// retention, webhook delivery). Start(tick) calls tick on a thread of its
// own: at once again while tick says more work is waiting, else after the
// interval plus up to a quarter more at random (so replicas started together
// do not poll in step). Stop() wakes the wait, lets a running tick finish and
// joins.
//
// A tick that pauses inside (retention between its batches) waits through
// Sleep(), which Stop() also wakes. The wait is on the real clock: the
// workers' tests call their RunOnce() on a FakeClock instead of Start().
// Thread-safety: Start and Stop from the owner; Sleep from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sms::server {

class PeriodicWorker final {
 public:
  explicit PeriodicWorker(std::chrono::milliseconds interval);
  ~PeriodicWorker();  // Stop()
  PeriodicWorker(const PeriodicWorker&) = delete;
  PeriodicWorker& operator=(const PeriodicWorker&) = delete;

  // Runs `tick` until Stop(); tick returns true when more work is waiting.
  void Start(std::function<bool()> tick);
  // No tick starts after it returns. Idempotent; safe without Start().
  void Stop();
  // Waits `d`, or less if Stop() is called; true when it was.
  bool Sleep(std::chrono::milliseconds d);

 private:
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::jthread thread_;
};

}  // namespace sms::server
