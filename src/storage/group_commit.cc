#include "storage/group_commit.h"

#include <algorithm>

namespace sms::storage {

GroupCommitQueue::~GroupCommitQueue() { Stop(); }

void GroupCommitQueue::Submit(void* item, const CommitBatch* commit_batch,
                              Complete complete, void* context) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      if (!writer_.joinable()) writer_ = std::thread([this] { WriterLoop(); });
      queue_.push_back(Entry{item, commit_batch, complete, context});
      // Otherwise the batch under way wakes the next one's committer, or
      // the writer has been woken already.
      if (!committing_ && queue_.size() == 1) wake_.notify_one();
      return;
    }
  }
  complete(context);  // stopped: not committed
}

void GroupCommitQueue::Commit(void* item, const CommitBatch& commit_batch) {
  bool done = false;  // set by CommitNext, under mu_
  std::unique_lock lock(mu_);
  if (stopping_) return;  // not committed
  queue_.push_back(Entry{item, &commit_batch, nullptr, &done});
  ++blocking_queued_;
  while (!done) {
    // Not done and no batch under way: the item is still queued.
    if (!committing_) {
      CommitNext(lock);
      continue;
    }
    ++waiting_;
    waiters_.wait(lock);
    --waiting_;
  }
}

void GroupCommitQueue::CommitNext(std::unique_lock<std::mutex>& lock) {
  committing_ = true;
  std::vector<Entry> taken;
  std::vector<void*> batch;
  taken.reserve(std::min(queue_.size(), max_batch_));
  batch.reserve(taken.capacity());
  while (!queue_.empty() && taken.size() < max_batch_) {
    const Entry& e = queue_.front();
    if (e.complete == nullptr) --blocking_queued_;
    taken.push_back(e);
    batch.push_back(e.item);
    queue_.pop_front();
  }
  lock.unlock();
  (*taken.front().commit)(batch);
  lock.lock();
  ++stats_.batches;
  stats_.items += batch.size();
  bool blocked = false;
  bool async = false;
  for (const Entry& e : taken) {
    if (e.complete == nullptr) {
      *static_cast<bool*>(e.context) = true;
      blocked = true;
    } else {
      async = true;
    }
  }
  if (async) {
    // The blocking callers go now; the next batch waits for the
    // completions, which keeps them in the order submitted.
    if (blocked && waiting_ > 0) waiters_.notify_all();
    blocked = false;
    lock.unlock();
    for (const Entry& e : taken)
      if (e.complete != nullptr) e.complete(e.context);
    lock.lock();
  }
  committing_ = false;
  // Who commits the next batch: a blocking caller when one is queued (all
  // are woken: the done ones return), else the writer; the writer also
  // when stopping, to end once the queue is empty.
  if (waiting_ > 0 && (blocked || blocking_queued_ > 0)) waiters_.notify_all();
  if ((blocking_queued_ == 0 && !queue_.empty()) || stopping_)
    wake_.notify_one();
}

void GroupCommitQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  // No Submit starts the writer once stopping_ is set.
  if (writer_.joinable()) writer_.join();
}

void GroupCommitQueue::WriterLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] {
      return !committing_ && (!queue_.empty() || stopping_);
    });
    if (queue_.empty()) return;  // stopping, and every item completed
    CommitNext(lock);
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
