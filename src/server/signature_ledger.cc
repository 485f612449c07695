#include "server/signature_ledger.h"

#include <algorithm>

namespace sms::server {

storage::Status SignatureLedger::Use(const std::string& key, int64_t expires_at,
                                     int64_t now) {
  std::unique_lock lock(mu_);
  if (open_ == nullptr) open_ = std::make_shared<Batch>();
  std::shared_ptr<Batch> mine = open_;
  const size_t slot = mine->keys.size();
  mine->keys.push_back({key, expires_at});
  mine->now = std::max(mine->now, now);
  // Wait until our batch is written, or until no batch is being written:
  // then ours is the open one and we write it (its other callers wait).
  written_.wait(lock, [&] { return mine->done || !writing_; });
  if (!mine->done) {
    writing_ = true;
    open_.reset();
    lock.unlock();
    auto fresh = store_.RememberSignatures(mine->keys, mine->now);
    lock.lock();
    mine->fresh = std::move(fresh);
    mine->done = true;
    writing_ = false;
    ++stats_.batches;
    stats_.keys += mine->keys.size();
    written_.notify_all();
  }
  if (!mine->fresh) return core::Fail(mine->fresh.error());
  if (!mine->fresh->at(slot))
    return core::Fail(core::AlreadyExists("signature already used"));
  return core::Ok();
}

SignatureLedger::Stats SignatureLedger::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace sms::server
