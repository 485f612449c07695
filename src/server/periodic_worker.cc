#include "server/periodic_worker.h"

#include <utility>

namespace sms::server {

PeriodicWorker::PeriodicWorker(std::chrono::milliseconds interval)
    : interval_(interval) {}

PeriodicWorker::~PeriodicWorker() { Stop(); }

void PeriodicWorker::Start(std::function<bool()> tick) {
  thread_ = std::jthread([this, tick = std::move(tick)](std::stop_token st) {
    while (!st.stop_requested()) {
      if (tick()) continue;  // more is waiting
      if (Sleep(interval_)) break;
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
