// GroupCommit: concurrent callers that each need a write made durable share
// one transaction, and so one durable commit: one fsync (one round trip on
// PostgreSQL) for the whole batch, whatever the number of callers in it.
// Users: the backends' CommitRun (a batch of runs; on PostgreSQL also one
// hold of each task's row lock and one NOTIFY of the replicas' caches) and
// SignatureLedger (server/signature_ledger.h: the used request signatures,
// a batch of keys).
//
// One batch at a time commits everything queued (up to max_batch items) in
// one transaction; items arriving meanwhile queue for the next, so a batch
// gathers what arrived during the previous one's commit and nothing waits
// on a timer. Each item is completed only after the batch holding it has
// been committed: the batch function sets each item's result (an error is
// a value in the item, per item) before it returns, and completions follow,
// in the order the items were submitted; the next batch starts after them.
//
// Two ways to submit, sharing the same batches:
//  - CommitAsync returns at once; its completion is called later, from the
//    thread that committed the batch, so a caller answering requests on an
//    event loop holds no thread while its item is committed.
//  - Commit blocks: it is CommitAsync plus a wait for the completion. A
//    caller waiting while no batch is under way commits the next batch
//    itself (async items included), as the leader of a classic group
//    commit: the commit runs on a thread already running instead of waking
//    one (a writer thread for every commit cost SQLite's uploads ~30 %:
//    1,280-1,540/s against 1,890-2,210/s, 16 connections, shared machine).
// Batches with no blocking caller to commit them are committed by a writer
// thread of the queue, started by the first CommitAsync. So a completion
// runs on that writer thread or on a thread blocked in Commit; it runs on
// the thread calling CommitAsync only after Stop() (below).
//
// Stop() (or the destructor) lets the queue commit and complete every item
// queued before it, then ends the writer thread. An item submitted after
// Stop() is completed at once, on the submitting thread, without being
// committed: it keeps the result it was submitted with, which is therefore
// an error ("not committed"). So every item is completed exactly once.
//
// All submissions to one GroupCommit commit the same way: a batch is
// committed by the batch function its first item was submitted with.
//
// GroupCommitQueue is the mechanism, untyped (group_commit.cc);
// GroupCommit<Item> is its typed face: a batch is a vector of the items,
// which the batch function reads and answers in place.
//
// Thread-safety: every member may be called concurrently; a completion
// must not wait on its own queue (Commit, Stop: the writer would wait for
// itself).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "storage/store.h"

namespace sms::storage {

class GroupCommitQueue final {
 public:
  // Batches committed so far and the items they held (tests, benchmarks).
  // A batch is counted before its items' completions are called.
  struct Stats {
    uint64_t batches = 0;
    uint64_t items = 0;
  };
  using CommitBatch = std::function<void(const std::vector<void*>&)>;
  // Called once per item, after its batch committed (or at once, after
  // Stop()), with the `context` it was submitted with.
  using Complete = void (*)(void* context);

  explicit GroupCommitQueue(size_t max_batch)
      : max_batch_(max_batch > 0 ? max_batch : 1) {}
  // Stop().
  ~GroupCommitQueue();
  GroupCommitQueue(const GroupCommitQueue&) = delete;
  GroupCommitQueue& operator=(const GroupCommitQueue&) = delete;

  // Queues `item` for the next batch and returns; `complete(context)` is
  // called once that batch has been committed by `*commit_batch`, which
  // must outlive it.
  void Submit(void* item, const CommitBatch* commit_batch, Complete complete,
              void* context);
  // Submit, then waits for the completion (committing batches meanwhile
  // when none is under way).
  void Commit(void* item, const CommitBatch& commit_batch);
  // Commits and completes every item queued, then ends the writer thread;
  // items submitted from now on are completed at once, uncommitted. Not
  // from a completion; a second call returns at once.
  void Stop();

  // How many items wait for the next batch.
  size_t Queued() const;
  Stats stats() const;

 private:
  struct Entry {
    void* item;
    const CommitBatch* commit;
    Complete complete;  // null: a blocking caller's, whose flag `context` is
    void* context;
  };

  void WriterLoop();
  // Commits the next batch and completes its items; called and returns with
  // `lock` held, no batch under way and the queue not empty.
  void CommitNext(std::unique_lock<std::mutex>& lock);

  const size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // the writer's
  std::condition_variable waiters_;  // the blocking callers'
  // Guarded by mu_: items waiting for the next batch, and how many of them
  // are blocking callers'; whether a batch is being committed (or its items
  // completed); blocking callers waiting; set by Stop(); what has been
  // committed.
  std::deque<Entry> queue_;
  size_t blocking_queued_ = 0;
  bool committing_ = false;
  size_t waiting_ = 0;
  bool stopping_ = false;
  Stats stats_;
  std::thread writer_;  // started by the first Submit
};

template <typename Item>
class GroupCommit final {
 public:
  using Batch = std::vector<Item*>;
  // Commits a batch in one transaction and sets each item's result.
  using CommitBatch = std::function<void(const Batch&)>;
  // Called once with the item, after its batch has committed.
  using Done = std::function<void(Item&)>;
  using Stats = GroupCommitQueue::Stats;

  // Each Commit names its batch function.
  explicit GroupCommit(size_t max_batch) : queue_(max_batch) {}
  // Commit(item) and CommitAsync use `commit_batch`.
  GroupCommit(size_t max_batch, CommitBatch commit_batch)
      : bound_(Untyped(std::move(commit_batch))), queue_(max_batch) {}

  // Commits `item` in the next batch; returns once that batch has been
  // committed (`item` holds its result).
  void Commit(Item& item, const CommitBatch& commit_batch) {
    queue_.Commit(&item, [&commit_batch](const std::vector<void*>& raw) {
      commit_batch(Typed(raw));
    });
  }
  // The same with the batch function given at construction.
  void Commit(Item& item) { queue_.Commit(&item, bound_); }
  // Queues `item` (the queue holds it) with the batch function given at
  // construction and returns; `done` is called once, with the item holding
  // its result, from the writer thread after the batch has committed (or at
  // once after Stop(), the item as submitted). `done` must not throw, and
  // should be quick: the next batch waits for this one's completions.
  void CommitAsync(Item item, Done done) {
    auto* owned = new Owned{std::move(item), std::move(done)};
    queue_.Submit(&owned->item, &bound_, &Owned::Complete, owned);
  }
  void Stop() { queue_.Stop(); }

  size_t Queued() const { return queue_.Queued(); }
  Stats stats() const { return queue_.stats(); }

 private:
  // An async item and its completion, until completed.
  struct Owned {
    Item item;
    Done done;
    static void Complete(void* context) {
      std::unique_ptr<Owned> self(static_cast<Owned*>(context));
      self->done(self->item);
    }
  };
  static Batch Typed(const std::vector<void*>& raw) {
    Batch batch;
    batch.reserve(raw.size());
    for (void* p : raw) batch.push_back(static_cast<Item*>(p));
    return batch;
  }
  static GroupCommitQueue::CommitBatch Untyped(CommitBatch typed) {
    return [typed = std::move(typed)](const std::vector<void*>& raw) {
      typed(Typed(raw));
    };
  }

  // Before the queue, whose destructor may still commit with it.
  const GroupCommitQueue::CommitBatch bound_;
  GroupCommitQueue queue_;
};

// One run of a CommitRun batch and what committing it did.
struct PendingRun {
  const Run* run;
  Result<CommitOutcome> result = core::Fail(core::Internal("not committed"));
};
using RunGroupCommit = GroupCommit<PendingRun>;

}  // namespace sms::storage
