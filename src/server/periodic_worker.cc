#include "server/periodic_worker.h"

#include <random>
#include <utility>

namespace sms::server {
namespace {

// The interval plus up to a quarter more, at random: replicas that started
// together do not poll in step, so one of them does not win every race
// for shared work (the scheduler's due ticks, webhook deliveries).
std::chrono::milliseconds Jittered(std::chrono::milliseconds interval) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const auto extra = interval.count() / 4;
  if (extra <= 0) return interval;
  return interval + std::chrono::milliseconds(
                        std::uniform_int_distribution<int64_t>(0, extra)(rng));
}

}  // namespace

PeriodicWorker::PeriodicWorker(std::chrono::milliseconds interval)
    : interval_(interval) {}

PeriodicWorker::~PeriodicWorker() { Stop(); }

void PeriodicWorker::Start(std::function<bool()> tick) {
  thread_ = std::jthread([this, tick = std::move(tick)](std::stop_token st) {
    while (!st.stop_requested()) {
      if (tick()) continue;  // more is waiting
      if (Sleep(Jittered(interval_))) break;
    }
  });
}

void PeriodicWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

bool PeriodicWorker::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return stop_; });
  return stop_;
}

}  // namespace sms::server
