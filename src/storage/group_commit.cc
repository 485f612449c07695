#include "storage/group_commit.h"

namespace sms::storage {

void GroupCommitQueue::Commit(void* item, const CommitBatch& commit_batch) {
  Waiter me{.item = item};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  while (!me.done) {
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    leader_active_ = true;
    std::vector<Waiter*> taken;
    std::vector<void*> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      taken.push_back(queue_.front());
      batch.push_back(queue_.front()->item);
      queue_.pop_front();
    }
    lock.unlock();
    commit_batch(batch);
    lock.lock();
    for (Waiter* w : taken) w->done = true;
    ++stats_.batches;
    stats_.items += batch.size();
    leader_active_ = false;
    cv_.notify_all();
  }
}

size_t GroupCommitQueue::Queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

GroupCommitQueue::Stats GroupCommitQueue::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace sms::storage
