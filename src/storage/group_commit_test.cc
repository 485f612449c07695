#include "storage/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
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
  void Commit(const GroupCommit::Batch& batch) {
    std::unique_lock lock(mu_);
    std::vector<std::string> ids;
    for (GroupCommit::Pending* p : batch) ids.push_back(p->run->run_id);
    batches_.push_back(ids);
    committing_ = true;
    cv_.notify_all();
    if (batches_.size() == 1) cv_.wait(lock, [this] { return released_; });
    for (GroupCommit::Pending* p : batch) {
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

void WaitForQueued(GroupCommit& gc, size_t n) {
  while (gc.Queued() < n)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST(GroupCommitTest, CallersArrivingDuringACommitShareTheNextBatch) {
  GroupCommit gc(64);
  Recorder rec;
  auto commit = [&rec](const GroupCommit::Batch& b) { rec.Commit(b); };
  const storage::Run first = NamedRun("first");
  std::thread leader([&] { EXPECT_TRUE(gc.Commit(first, commit)); });
  rec.WaitUntilCommitting();

  std::vector<storage::Run> runs;
  for (int i = 0; i < 10; ++i)
    runs.push_back(NamedRun("r" + std::to_string(i)));
  runs.push_back(NamedRun("bad"));
  std::atomic<int> answered_while_committing{0};
  std::vector<Result<CommitOutcome>> results(runs.size(),
                                             core::Fail(core::Internal("")));
  std::vector<std::thread> callers;
  for (size_t i = 0; i < runs.size(); ++i) {
    callers.emplace_back([&, i] {
      results[i] = gc.Commit(runs[i], commit);
      if (rec.Committing()) ++answered_while_committing;
    });
  }
  // Every caller queued behind the first batch before it ends.
  WaitForQueued(gc, runs.size());
  rec.Release();
  leader.join();
  for (auto& t : callers) t.join();

  const auto batches = rec.Batches();
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
}

TEST(GroupCommitTest, ABatchHoldsAtMostMaxBatchRuns) {
  GroupCommit gc(4);
  Recorder rec;
  auto commit = [&rec](const GroupCommit::Batch& b) { rec.Commit(b); };
  const storage::Run first = NamedRun("first");
  std::thread leader([&] { EXPECT_TRUE(gc.Commit(first, commit)); });
  rec.WaitUntilCommitting();
  std::vector<storage::Run> runs;
  for (int i = 0; i < 10; ++i)
    runs.push_back(NamedRun("r" + std::to_string(i)));
  std::vector<std::thread> callers;
  for (const storage::Run& run : runs)
    callers.emplace_back([&] { EXPECT_TRUE(gc.Commit(run, commit)); });
  WaitForQueued(gc, runs.size());
  rec.Release();
  leader.join();
  for (auto& t : callers) t.join();

  std::set<std::string> committed;
  for (const auto& batch : rec.Batches()) {
    EXPECT_LE(batch.size(), 4u);
    for (const std::string& id : batch)
      EXPECT_TRUE(committed.insert(id).second) << id << " twice";
  }
  EXPECT_EQ(committed.size(), runs.size() + 1);
}

}  // namespace
}  // namespace sms::storage
