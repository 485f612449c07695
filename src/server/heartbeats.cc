#include "server/heartbeats.h"

#include <utility>
#include <vector>

namespace sms::server {

void Heartbeats::Record(const std::string& domain_id,
                        const std::string& source_id, int64_t at) {
  std::string key = domain_id + "/" + source_id;
  std::lock_guard lock(mu_);
  auto [it, added] = beats_.try_emplace(
      std::move(key), storage::Heartbeat{domain_id, source_id, at});
  if (!added && it->second.at < at) it->second.at = at;
}

storage::Status Heartbeats::Flush() {
  std::unordered_map<std::string, storage::Heartbeat> taken;
  {
    std::lock_guard lock(mu_);
    taken.swap(beats_);
  }
  if (taken.empty()) return core::Ok();
  std::vector<storage::Heartbeat> beats;
  beats.reserve(taken.size());
  for (const auto& [key, beat] : taken) beats.push_back(beat);
  auto written = store_.RecordHeartbeats(beats);
  if (!written) {
    // Kept for the next flush, unless a newer beat came meanwhile.
    std::lock_guard lock(mu_);
    for (auto& [key, beat] : taken) {
      auto [it, added] = beats_.try_emplace(key, beat);
      if (!added && it->second.at < beat.at) it->second.at = beat.at;
    }
  }
  return written;
}

int64_t Heartbeats::Latest(const std::string& domain_id,
                           const std::string& source_id) const {
  const std::string key = domain_id + "/" + source_id;
  std::lock_guard lock(mu_);
  auto it = beats_.find(key);
  return it == beats_.end() ? 0 : it->second.at;
}

size_t Heartbeats::pending() const {
  std::lock_guard lock(mu_);
  return beats_.size();
}

}  // namespace sms::server
