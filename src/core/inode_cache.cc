#include "core/inode_cache.h"

namespace sms::core {

InodeCache::InodeCache(size_t max_entries)
    : max_entries_(max_entries > 0 ? max_entries : 1) {}

bool InodeCache::Lookup(const StatInfo& st, Digest& out,
                        int64_t& hashed_at_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find({st.dev, st.ino});
  if (it == map_.end()) return false;
  Value& v = it->second;
  if (v.size != st.size || v.mtime_ns != st.mtime_ns ||
      v.ctime_ns != st.ctime_ns) {
    return false;
  }
  out = v.digest;
  hashed_at_ns = v.hashed_at_ns;
  if (--v.links_left == 0) map_.erase(it);
  return true;
}

void InodeCache::Insert(const StatInfo& st, const Digest& digest,
                        int64_t hashed_at_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  const Key key{st.dev, st.ino};
  const uint64_t links_left = st.nlink > 1 ? st.nlink - 1 : 1;
  auto [it, inserted] =
      map_.insert_or_assign(key, Value{st.size, st.mtime_ns, st.ctime_ns,
                                       digest, hashed_at_ns, links_left});
  if (!inserted) return;
  order_.push_back(key);
  // The oldest go first; keys whose entry went already are dropped on the
  // way, and the queue is trimmed when stale keys pile up.
  while (map_.size() > max_entries_ || order_.size() > 2 * max_entries_) {
    map_.erase(order_.front());
    order_.pop_front();
  }
}

bool InodeCache::Claim(uint64_t dev, uint64_t ino) {
  std::lock_guard<std::mutex> lock(mu_);
  if (map_.count({dev, ino}) > 0) return false;
  return claimed_.insert({dev, ino}).second;
}

void InodeCache::Release(std::span<const std::pair<uint64_t, uint64_t>> keys) {
  if (keys.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& k : keys) claimed_.erase(k);
  }
  released_.notify_all();
}

void InodeCache::WaitUnclaimed(uint64_t dev, uint64_t ino) {
  std::unique_lock<std::mutex> lock(mu_);
  released_.wait(lock, [&] { return claimed_.count({dev, ino}) == 0; });
}

size_t InodeCache::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}

}  // namespace sms::core
