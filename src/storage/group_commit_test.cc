#include "storage/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/matchers.h"

namespace sms::storage {
namespace {

using core::ErrorCode;
using ::sms::testing::HasCode;

// A backend's batch commit, recorded: which runs each batch held, and
// whether a caller got its answer while its batch was still committing.
class Recorder {
 public:
  // The first batch waits until `release` is called, so the callers
  // arriving meanwhile queue up for the second.
  void Commit(const RunGroupCommit::Batch& batch) {
    std::unique_lock lock(mu_);
    std::vector<std::string> ids;
    for (PendingRun* p : batch) ids.push_back(p->run->run_id);
    batches_.push_back(ids);
    committing_ = true;
    cv_.notify_all();
    if (batches_.size() == 1) cv_.wait(lock, [this] { return released_; });
    for (PendingRun* p : batch) {
      // One bad run fails alone; the others commit.
      p->result = p->run->run_id == "bad"
                      ? core::Fail(core::AlreadyExists("conflict"))
                      : Result<CommitOutcome>(CommitOutcome::kCommitted);
    }
    committing_ = false;
  }
  void WaitUntilCommitting() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return committing_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool Committing() {
    std::lock_guard lock(mu_);
    return committing_;
  }
  std::vector<std::vector<std::string>> Batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<std::string>> batches_;
  bool committing_ = false;
  bool released_ = false;
};

Run NamedRun(const std::string& id) {
  Run run;
  run.run_id = id;
  return run;
}

// A group commit of at most max_batch runs whose first batch (of the run
// "first") is held open until Release(), so the runs committed meanwhile
// queue for the next: the set-up the tests share.
class GroupCommitTest : public ::testing::Test {
 protected:
  // Starts committing "first" and waits until its batch is committing.
  void StartFirstBatch(size_t max_batch) {
    gc_ = std::make_unique<RunGroupCommit>(
        max_batch, [this](const RunGroupCommit::Batch& b) { rec_.Commit(b); });
    leader_ = std::thread([this] { EXPECT_TRUE(Commit(first_)); });
    rec_.WaitUntilCommitting();
  }
  // Commits `run` through the group commit; returns its result.
  Result<CommitOutcome> Commit(const storage::Run& run) {
    PendingRun pending{.run = &run};
    gc_->Commit(pending,
                [this](const RunGroupCommit::Batch& b) { rec_.Commit(b); });
    return std::move(pending.result);
  }
  // Waits until `n` runs queue behind the first batch, then ends it and
  // joins every caller.
  void ReleaseWhenQueued(size_t n, std::vector<std::thread>& callers) {
    while (gc_->Queued() < n)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    rec_.Release();
    leader_.join();
    for (auto& t : callers) t.join();
  }
  static std::vector<storage::Run> Runs(int n) {
    std::vector<storage::Run> runs;
    for (int i = 0; i < n; ++i)
      runs.push_back(NamedRun("r" + std::to_string(i)));
    return runs;
  }

  // Queues `run` through CommitAsync; its completion is noted in
  // `completions_` (its result, whether its batch was recorded by then, the
  // thread it ran on).
  void CommitAsync(const storage::Run& run) {
    gc_->CommitAsync(PendingRun{.run = &run}, [this](PendingRun& p) {
      bool recorded = false;
      for (const auto& batch : rec_.Batches())
        for (const std::string& id : batch) recorded |= id == p.run->run_id;
      std::lock_guard lock(mu_);
      completions_.push_back(Completion{.run_id = p.run->run_id,
                                        .result = std::move(p.result),
                                        .recorded = recorded,
                                        .committing = rec_.Committing(),
                                        .thread = std::this_thread::get_id()});
      cv_.notify_all();
    });
  }
  struct Completion {
    std::string run_id;
    Result<CommitOutcome> result;
    bool recorded;    // its batch had been committed
    bool committing;  // a batch was being committed
    std::thread::id thread;
  };
  // Waits (up to 20 s) for `n` completions and returns them in their order.
  std::vector<Completion> WaitForCompletions(size_t n) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(20),
                             [&] { return completions_.size() >= n; }));
    return completions_;
  }
  size_t CompletionCount() {
    std::lock_guard lock(mu_);
    return completions_.size();
  }

  Recorder rec_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Completion> completions_;  // guarded by mu_
  std::unique_ptr<RunGroupCommit> gc_;
  const storage::Run first_ = NamedRun("first");
  std::thread leader_;
};

TEST_F(GroupCommitTest, CallersArrivingDuringACommitShareTheNextBatch) {
  StartFirstBatch(64);
  std::vector<storage::Run> runs = Runs(10);
  runs.push_back(NamedRun("bad"));
  std::atomic<int> answered_while_committing{0};
  std::vector<Result<CommitOutcome>> results(runs.size(),
                                             core::Fail(core::Internal("")));
  std::vector<std::thread> callers;
  for (size_t i = 0; i < runs.size(); ++i) {
    callers.emplace_back([&, i] {
      results[i] = Commit(runs[i]);
      if (rec_.Committing()) ++answered_while_committing;
    });
  }
  // Every caller queued behind the first batch before it ends.
  ReleaseWhenQueued(runs.size(), callers);

  const auto batches = rec_.Batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], std::vector<std::string>{"first"});
  const std::set<std::string> second(batches[1].begin(), batches[1].end());
  EXPECT_EQ(second.size(), runs.size()) << "one batch, each run once";
  for (size_t i = 0; i + 1 < runs.size(); ++i) {
    ASSERT_TRUE(results[i]) << runs[i].run_id;
    EXPECT_EQ(*results[i], CommitOutcome::kCommitted);
  }
  EXPECT_THAT(results.back(), HasCode(ErrorCode::kAlreadyExists));
  EXPECT_EQ(answered_while_committing.load(), 0);
  EXPECT_EQ(gc_->stats().batches, 2u);
  EXPECT_EQ(gc_->stats().items, runs.size() + 1);
}

TEST_F(GroupCommitTest, ABatchHoldsAtMostMaxBatchRuns) {
  StartFirstBatch(4);
  const std::vector<storage::Run> runs = Runs(10);
  std::vector<std::thread> callers;
  for (const storage::Run& run : runs)
    callers.emplace_back([&] { EXPECT_TRUE(Commit(run)); });
  ReleaseWhenQueued(runs.size(), callers);

  std::set<std::string> committed;
  for (const auto& batch : rec_.Batches()) {
    EXPECT_LE(batch.size(), 4u);
    for (const std::string& id : batch)
      EXPECT_TRUE(committed.insert(id).second) << id << " twice";
  }
  EXPECT_EQ(committed.size(), runs.size() + 1);
}

// CommitAsync returns at once; each item is completed once, in the order
// submitted, from the writer thread, after the batch holding it has been
// committed. One bad run fails alone, as a value in its own item.
TEST_F(GroupCommitTest, AsyncItemsCompleteInOrderAfterTheirBatchCommitted) {
  StartFirstBatch(4);
  std::vector<storage::Run> runs = Runs(10);
  runs[5] = NamedRun("bad");
  for (const storage::Run& run : runs) CommitAsync(run);
  EXPECT_EQ(gc_->Queued(), runs.size()) << "queued, not committed";
  EXPECT_EQ(CompletionCount(), 0u);
  rec_.Release();
  leader_.join();

  const std::vector<Completion> done = WaitForCompletions(runs.size());
  ASSERT_EQ(done.size(), runs.size()) << "each once";
  for (size_t i = 0; i < runs.size(); ++i) {
    SCOPED_TRACE(runs[i].run_id);
    EXPECT_EQ(done[i].run_id, runs[i].run_id) << "in the order submitted";
    EXPECT_TRUE(done[i].recorded);
    EXPECT_FALSE(done[i].committing);
    EXPECT_NE(done[i].thread, std::this_thread::get_id());
    if (runs[i].run_id == "bad") {
      EXPECT_THAT(done[i].result, HasCode(ErrorCode::kAlreadyExists));
    } else {
      ASSERT_TRUE(done[i].result);
      EXPECT_EQ(*done[i].result, CommitOutcome::kCommitted);
    }
  }
  for (const auto& batch : rec_.Batches()) EXPECT_LE(batch.size(), 4u);
  EXPECT_EQ(gc_->stats().items, runs.size() + 1);
}

// Blocking callers and async items share the same batches.
TEST_F(GroupCommitTest, BlockingAndAsyncItemsShareABatch) {
  StartFirstBatch(64);
  const std::vector<storage::Run> runs = Runs(6);
  std::vector<std::thread> callers;
  for (size_t i = 0; i < runs.size(); i += 2) {
    CommitAsync(runs[i]);
    callers.emplace_back([&, i] { EXPECT_TRUE(Commit(runs[i + 1])); });
  }
  ReleaseWhenQueued(runs.size(), callers);
  EXPECT_EQ(WaitForCompletions(runs.size() / 2).size(), runs.size() / 2);
  const auto batches = rec_.Batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].size(), runs.size());
}

// Stop() while items are queued behind a batch being committed: every item
// queued before it is committed and completed, once; an item given after
// it is completed at once, on the caller's thread, uncommitted (its result
// still the "not committed" error), and is in no batch. None is lost or
// completed twice.
TEST_F(GroupCommitTest, StopCommitsWhatIsQueuedAndRefusesWhatComesAfter) {
  StartFirstBatch(4);
  std::deque<storage::Run> runs;
  for (int i = 0; i < 10; ++i) {
    runs.push_back(NamedRun("q" + std::to_string(i)));
    CommitAsync(runs.back());
  }
  std::thread stopper([this] { gc_->Stop(); });
  // Probes until one is refused: those before it were queued (the first
  // batch is still held, so nothing has been completed meanwhile).
  for (int i = 0;; ++i) {
    runs.push_back(NamedRun("p" + std::to_string(i)));
    const size_t before = CompletionCount();
    CommitAsync(runs.back());
    if (CompletionCount() > before) break;  // completed at once: refused
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const size_t queued = runs.size() - 1;
  EXPECT_EQ(gc_->Queued(), queued);
  {
    const storage::Run late = NamedRun("late");
    PendingRun blocking{.run = &late};
    gc_->Commit(blocking);  // returns at once, uncommitted
    EXPECT_THAT(blocking.result, HasCode(ErrorCode::kInternal));
  }
  rec_.Release();
  stopper.join();  // Stop returns once the queue is drained
  leader_.join();

  const std::vector<Completion> done = WaitForCompletions(runs.size());
  ASSERT_EQ(done.size(), runs.size()) << "each once";
  const Completion& refused = done.front();
  EXPECT_EQ(refused.run_id, runs.back().run_id);
  EXPECT_FALSE(refused.recorded);
  EXPECT_EQ(refused.thread, std::this_thread::get_id());
  EXPECT_THAT(refused.result, HasCode(ErrorCode::kInternal));
  for (size_t i = 0; i < queued; ++i) {
    SCOPED_TRACE(runs[i].run_id);
    EXPECT_EQ(done[i + 1].run_id, runs[i].run_id);
    EXPECT_TRUE(done[i + 1].recorded);
    ASSERT_TRUE(done[i + 1].result);
  }
  std::set<std::string> committed;
  for (const auto& batch : rec_.Batches())
    for (const std::string& id : batch)
      EXPECT_TRUE(committed.insert(id).second) << id << " twice";
  EXPECT_EQ(committed.size(), queued + 1) << "the queued ones and first";
  EXPECT_EQ(committed.count(runs.back().run_id), 0u);
  EXPECT_EQ(committed.count("late"), 0u);
  EXPECT_EQ(gc_->Queued(), 0u);
}

}  // namespace
}  // namespace sms::storage
