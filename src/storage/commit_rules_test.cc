#include "storage/commit_rules.h"

#include <gtest/gtest.h>

#include "testing/matchers.h"

namespace sms::storage {
namespace {

using core::ErrorCode;
using ::sms::testing::HasCode;
using ::sms::testing::IsOk;

Run MakeRun() {
  Run run;
  run.run_id = "r1";
  run.domain_id = "d1";
  run.task_id = "t1";
  run.content_hash = "h1";
  return run;
}

TEST(CommitRulesTest, SameUploadAgainIsAlreadyCommitted) {
  auto out = RepeatedCommit(
      MakeRun(), {.domain_id = "d1", .task_id = "t1", .content_hash = "h1"});
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(*out, CommitOutcome::kAlreadyCommitted);
}

TEST(CommitRulesTest, OtherContentOwnerOrTenantUnderTheRunIdIsAlreadyExists) {
  const StoredUpload others[] = {
      {.domain_id = "d1", .task_id = "t1", .content_hash = "h2"},
      {.domain_id = "d1", .task_id = "t2", .content_hash = "h1"},
      {.domain_id = "d2", .task_id = "t1", .content_hash = "h1"},
  };
  for (const StoredUpload& stored : others) {
    EXPECT_THAT(RepeatedCommit(MakeRun(), stored),
                HasCode(ErrorCode::kAlreadyExists))
        << stored.domain_id << "/" << stored.task_id << "/"
        << stored.content_hash;
  }
}

TEST(CommitRulesTest, RunIdStagedByAnotherTaskIsAlreadyExists) {
  EXPECT_THAT(CheckRunIdOwner(true), HasCode(ErrorCode::kAlreadyExists));
  EXPECT_THAT(CheckRunIdOwner(false), IsOk());
}

TEST(CommitRulesTest, CommitEndsTheCurrentRunOnlyWhileItRuns) {
  const storage::Run run = MakeRun();
  Task task;
  task.current_run_id = "r1";
  struct Case {
    TaskState state;
    std::optional<TaskState> next;
  };
  for (const Case& c : {Case{TaskState::kRunning, TaskState::kReady},
                        Case{TaskState::kAborting, TaskState::kReady},
                        Case{TaskState::kReady, std::nullopt},
                        Case{TaskState::kAbort, std::nullopt}}) {
    task.state = c.state;
    EXPECT_EQ(TaskStateAfterCommit(task, run), c.next) << ToText(c.state);
  }
  task.state = TaskState::kRunning;
  task.current_run_id = "another";
  EXPECT_EQ(TaskStateAfterCommit(task, run), std::nullopt);
}

TEST(CommitRulesTest, StagingForACommittedRunIsFailedPrecondition) {
  EXPECT_THAT(CheckRunNotCommitted(true),
              HasCode(ErrorCode::kFailedPrecondition));
  EXPECT_THAT(CheckRunNotCommitted(false), IsOk());
}

TEST(CommitRulesTest, RepeatedChunkIsAlreadyStagedOrAlreadyExists) {
  DetailChunk chunk;
  chunk.run_id = "r1";
  chunk.domain_id = "d1";
  chunk.task_id = "t1";
  chunk.content_hash = "c1";
  auto same = RepeatedStage(
      chunk, {.domain_id = "d1", .task_id = "t1", .content_hash = "c1"});
  ASSERT_THAT(same, IsOk());
  EXPECT_EQ(*same, StageOutcome::kAlreadyStaged);
  EXPECT_THAT(
      RepeatedStage(chunk,
                    {.domain_id = "d1", .task_id = "t1", .content_hash = "c2"}),
      HasCode(ErrorCode::kAlreadyExists));
}

TEST(CommitRulesTest, StopKeepsTheRunItStopsAndACheckBringsItsOwn) {
  Task task;
  task.current_run_id = "running";
  Command check;
  check.name = CommandName::kConsistencyCheck;
  check.run_id = "new";
  EXPECT_EQ(RunIdAfterEnqueue(check, task), "new");
  Command stop;
  stop.name = CommandName::kStop;
  stop.run_id = "";
  EXPECT_EQ(RunIdAfterEnqueue(stop, task), "running");
}

}  // namespace
}  // namespace sms::storage
