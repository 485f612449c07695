#include "server/heartbeats.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace sms::server {
namespace {

// A source written up to date and silent this long is forgotten (its agent
// stopped, or moved to another replica); it counts as new if it polls
// again.
constexpr int64_t kForgetAfterMs = 10 * 60 * 1000;

}  // namespace

void Heartbeats::Record(const std::string& domain_id,
                        const std::string& source_id, int64_t at) {
  std::string key = domain_id + "/" + source_id;
  std::lock_guard lock(mu_);
  auto [it, added] = beats_.try_emplace(
      std::move(key), Noted{storage::Heartbeat{domain_id, source_id, at}});
  if (!added && it->second.beat.at < at) it->second.beat.at = at;
}

storage::Status Heartbeats::Flush() { return Write(false); }

storage::Status Heartbeats::FlushAll() { return Write(true); }

storage::Status Heartbeats::Write(bool all) {
  std::vector<storage::Heartbeat> due;
  {
    const int64_t now = clock_.NowEpochMillis();
    std::lock_guard lock(mu_);
    for (auto it = beats_.begin(); it != beats_.end();) {
      const Noted& n = it->second;
      if (n.beat.at <= n.written) {
        if (n.beat.at < now - kForgetAfterMs) {
          it = beats_.erase(it);
          continue;
        }
      } else if (all || n.written == 0 || now - n.written >= write_every_ms_) {
        due.push_back(n.beat);
      }
      ++it;
    }
  }
  if (due.empty()) return core::Ok();
  auto written = store_.RecordHeartbeats(due);
  if (!written) return written;  // still noted, for the next flush
  std::lock_guard lock(mu_);
  for (const storage::Heartbeat& b : due) {
    auto it = beats_.find(b.domain_id + "/" + b.source_id);
    if (it != beats_.end()) it->second.written = b.at;
  }
  return written;
}

int64_t Heartbeats::Latest(const std::string& domain_id,
                           const std::string& source_id) const {
  const std::string key = domain_id + "/" + source_id;
  std::lock_guard lock(mu_);
  auto it = beats_.find(key);
  return it == beats_.end() ? 0 : it->second.beat.at;
}

size_t Heartbeats::pending() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(
      beats_.begin(), beats_.end(),
      [](const auto& kv) { return kv.second.beat.at > kv.second.written; }));
}

}  // namespace sms::server
