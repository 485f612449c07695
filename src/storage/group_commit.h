// GroupCommit: concurrent CommitRun calls of one store share one
// transaction, and so one durable commit: one fsync for the whole batch;
// on PostgreSQL also one hold of each task's row lock and one NOTIFY of the
// replicas' caches (PostgreSQL serialises notifying commits through their
// WAL flush), instead of one of each per upload.
//
// The first caller to find no batch running becomes the leader and commits
// everything queued (up to max_batch runs); callers arriving meanwhile
// queue for the next batch, so a batch gathers what arrived during the
// previous one's commit and no caller waits on a timer. The backend's
// commit gives each run its own savepoint, so one failing run does not fail
// the others, and sets a run's result only after the shared COMMIT has
// returned: nothing is acknowledged before it is durable.
//
// Thread-safety: Commit may be called concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "storage/store.h"

namespace sms::storage {

class GroupCommit final {
 public:
  // One run of a batch and what committing it did.
  struct Pending {
    const Run* run;
    Result<CommitOutcome> result;
  };
  using Batch = std::vector<Pending*>;
  // Commits a batch in one transaction and sets each Pending's result.
  using CommitBatch = std::function<void(const Batch&)>;

  explicit GroupCommit(size_t max_batch) : max_batch_(max_batch) {}

  // Commits `run` in the next batch (led by this caller or another) and
  // returns its result once that batch's transaction has ended.
  Result<CommitOutcome> Commit(const Run& run, const CommitBatch& commit_batch);

  // How many runs wait for the next batch.
  size_t Queued();

 private:
  struct Waiter {
    Pending pending;
    bool done = false;
  };

  const size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_: runs waiting for the next batch; whether one is running.
  std::deque<Waiter*> queue_;
  bool leader_active_ = false;
};

}  // namespace sms::storage
