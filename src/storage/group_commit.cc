#include "storage/group_commit.h"

#include <utility>

namespace sms::storage {

Result<CommitOutcome> GroupCommit::Commit(const Run& run,
                                          const CommitBatch& commit_batch) {
  Waiter me{.pending = {&run, core::Fail(core::Internal("not committed"))}};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  while (!me.done) {
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    leader_active_ = true;
    std::vector<Waiter*> taken;
    Batch batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      taken.push_back(queue_.front());
      batch.push_back(&queue_.front()->pending);
      queue_.pop_front();
    }
    lock.unlock();
    commit_batch(batch);
    lock.lock();
    for (Waiter* w : taken) w->done = true;
    leader_active_ = false;
    cv_.notify_all();
  }
  return std::move(me.pending.result);
}

size_t GroupCommit::Queued() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace sms::storage
