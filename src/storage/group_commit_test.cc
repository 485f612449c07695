#include "storage/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
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
// queue for the next: the set-up both tests share.
class GroupCommitTest : public ::testing::Test {
 protected:
  // Starts committing "first" and waits until its batch is committing.
  void StartFirstBatch(size_t max_batch) {
    gc_ = std::make_unique<RunGroupCommit>(max_batch);
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

  Recorder rec_;
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

}  // namespace
}  // namespace sms::storage
