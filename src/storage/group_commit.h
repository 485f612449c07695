// GroupCommit: concurrent callers that each need a write made durable share
// one transaction, and so one durable commit: one fsync (one round trip on
// PostgreSQL) for the whole batch, whatever the number of callers in it.
// User: the backends' CommitRun (a batch of runs; on PostgreSQL also one
// hold of each task's row lock and one NOTIFY of the replicas' caches).
// SignatureLedger (server/signature_ledger.h) batches used request
// signatures the same way, with a writer thread of its own so that a caller
// may also be answered by a callback instead of waiting.
//
// The first caller to find no batch running becomes the leader and commits
// everything queued (up to max_batch items); callers arriving meanwhile
// queue for the next batch, so a batch gathers what arrived during the
// previous one's commit and no caller waits on a timer. Each caller returns
// only once the batch holding its item has been committed: the batch
// function sets each item's result after its transaction has ended, so
// nothing is acknowledged before it is durable.
//
// GroupCommitQueue is the mechanism, untyped (group_commit.cc);
// GroupCommit<Item> is its typed face: a batch is a vector of the callers'
// items, which the batch function reads and answers in place.
//
// Thread-safety: Commit may be called concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "storage/store.h"

namespace sms::storage {

class GroupCommitQueue final {
 public:
  // Batches committed so far and the items they held (tests, benchmarks).
  struct Stats {
    uint64_t batches = 0;
    uint64_t items = 0;
  };
  using CommitBatch = std::function<void(const std::vector<void*>&)>;

  explicit GroupCommitQueue(size_t max_batch) : max_batch_(max_batch) {}
  GroupCommitQueue(const GroupCommitQueue&) = delete;
  GroupCommitQueue& operator=(const GroupCommitQueue&) = delete;

  // Queues `item` for the next batch (led by this caller or another) and
  // returns once `commit_batch` has been called on the batch holding it.
  void Commit(void* item, const CommitBatch& commit_batch);

  // How many items wait for the next batch.
  size_t Queued() const;
  Stats stats() const;

 private:
  struct Waiter {
    void* item;
    bool done = false;
  };

  const size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_: items waiting for the next batch; whether one is
  // being committed; what has been committed.
  std::deque<Waiter*> queue_;
  bool leader_active_ = false;
  Stats stats_;
};

template <typename Item>
class GroupCommit final {
 public:
  using Batch = std::vector<Item*>;
  // Commits a batch in one transaction and sets each item's result.
  using CommitBatch = std::function<void(const Batch&)>;
  using Stats = GroupCommitQueue::Stats;

  explicit GroupCommit(size_t max_batch) : queue_(max_batch) {}

  // Commits `item` in the next batch; returns once that batch has been
  // committed (`item` holds its result).
  void Commit(Item& item, const CommitBatch& commit_batch) {
    queue_.Commit(&item, [&commit_batch](const std::vector<void*>& raw) {
      Batch batch;
      batch.reserve(raw.size());
      for (void* p : raw) batch.push_back(static_cast<Item*>(p));
      commit_batch(batch);
    });
  }

  size_t Queued() const { return queue_.Queued(); }
  Stats stats() const { return queue_.stats(); }

 private:
  GroupCommitQueue queue_;
};

// One run of a CommitRun batch and what committing it did.
struct PendingRun {
  const Run* run;
  Result<CommitOutcome> result = core::Fail(core::Internal("not committed"));
};
using RunGroupCommit = GroupCommit<PendingRun>;

}  // namespace sms::storage
