// The scheduler (issue 13.1) over a real SQLite store and a fake clock:
// due ticks fire once through TaskService, a tick during a running check is
// skipped and counted, downtime gives one catch-up, a removed schedule stops
// firing, and CONSISTENCY_SCHEDULE is checked with the minimum interval.
// RunOnce is driven by hand: nothing sleeps.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/codec/task_codec.h"
#include "server/service_fixture.h"

namespace sms::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using storage::Role;
using storage::TaskState;

class SchedulerTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    tasks_ = std::make_unique<TaskService>(*store_, clock_);
    scheduler_ = std::make_unique<Scheduler>(
        *store_, clock_, *tasks_, SchedulerOptions{},
        [this](const std::string& line) { log_.push_back(line); });
  }

  std::string NewTask(bool with_dirs = true) {
    CreateTaskRequest r;
    r.name = "nightly";
    r.os_type = "LINUX";
    r.source_id = kSourceId;
    r.target_name = "target-1";
    r.target_verify_uri = "file:///srv/copy";
    auto t = tasks_->CreateTask(As(Role::kOperator), r);
    EXPECT_THAT(t, ApiOk());
    if (with_dirs) {
      EXPECT_THAT(tasks_->SetConfiguration(As(Role::kOperator), t->id,
                                           {{"CONSISTENCY_DIR", "/data"}}),
                  ApiOk());
    }
    return t->id;
  }

  ApiStatus SetSchedule(const std::string& id, const std::string& value) {
    return tasks_->SetConfiguration(As(Role::kOperator), id,
                                    {{"CONSISTENCY_SCHEDULE", value}});
  }

  storage::Task Task(const std::string& id) {
    auto t = store_->GetTask("d1", id);
    EXPECT_TRUE(t.has_value());
    return t ? *t : storage::Task{};
  }

  // Moves the fake clock to `epoch_ms` (never backwards).
  void AdvanceTo(int64_t epoch_ms) {
    const int64_t now = clock_.NowEpochMillis();
    if (epoch_ms > now) clock_.Advance(milliseconds(epoch_ms - now));
  }

  std::unique_ptr<TaskService> tasks_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::string> log_;
};

TEST_F(SchedulerTest, FiresWhenDueSkipsWhileRunningAndCatchesUpOnce) {
  const std::string id = NewTask();
  ASSERT_THAT(SetSchedule(id, "@every 1m"), ApiOk());
  const int64_t first = *Task(id).next_check_at;
  EXPECT_GT(first, clock_.NowEpochMillis());
  EXPECT_EQ(first % 60000, 0);  // aligned to the minute

  // Not due yet: nothing happens.
  AdvanceTo(first - 1);
  SchedulerPass pass = scheduler_->RunOnce();
  EXPECT_EQ(pass.fired, 0);
  EXPECT_EQ(Task(id).state, TaskState::kReady);

  // Due: one check queued, the way POST action queues one.
  AdvanceTo(first + 300);
  pass = scheduler_->RunOnce();
  EXPECT_EQ(pass.fired, 1);
  EXPECT_EQ(pass.catch_up, 0);
  storage::Task t = Task(id);
  EXPECT_EQ(t.state, TaskState::kRunning);
  EXPECT_FALSE(t.current_run_id.empty());
  EXPECT_EQ(t.next_check_at, first + 60000);
  auto cmd = store_->LatestTaskCommand("d1", id);
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(cmd->run_id, t.current_run_id);
  // The same tick is not fired twice.
  EXPECT_EQ(scheduler_->RunOnce().fired, 0);

  // The next tick while the check is still going: skipped and counted.
  AdvanceTo(first + 60000);
  pass = scheduler_->RunOnce();
  EXPECT_EQ(pass.fired, 0);
  EXPECT_EQ(pass.skipped, 1);
  t = Task(id);
  EXPECT_EQ(t.skipped_checks, 1);
  EXPECT_EQ(t.next_check_at, first + 120000);
  EXPECT_EQ(store_->LatestTaskCommand("d1", id)->id, cmd->id);  // no second

  // The check ends (skipped here); the server is down for ten minutes.
  ASSERT_THAT(tasks_->RunAction(As(Role::kOperator), id,
                                ActionRequest{.operation = "skip"}),
              ApiOk());
  AdvanceTo(first + 12 * 60000 + 500);
  pass = scheduler_->RunOnce();
  EXPECT_EQ(pass.fired, 1);  // one catch-up, not ten checks
  EXPECT_EQ(pass.catch_up, 1);
  t = Task(id);
  EXPECT_EQ(t.state, TaskState::kRunning);
  EXPECT_EQ(t.next_check_at, first + 13 * 60000);  // back in rhythm
  EXPECT_EQ(t.skipped_checks, 1);                  // missed ticks are not skips
  EXPECT_EQ(scheduler_->RunOnce().fired, 0);
  bool logged = false;
  for (const std::string& line : log_)
    logged |= line.find("catch-up") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST_F(SchedulerTest, RemovedScheduleStopsAndItsTickEndsQuietly) {
  const std::string id = NewTask();
  ASSERT_THAT(SetSchedule(id, "TZ=Asia/Shanghai 0 2 * * *"), ApiOk());
  ASSERT_TRUE(Task(id).next_check_at.has_value());
  ASSERT_THAT(SetSchedule(id, ""), ApiOk());
  EXPECT_FALSE(Task(id).next_check_at.has_value());
  clock_.Advance(std::chrono::hours(48));
  EXPECT_EQ(scheduler_->RunOnce().fired, 0);
  EXPECT_EQ(Task(id).state, TaskState::kReady);
  // The setting removed behind the scheduler's back (as an old server
  // would leave it): the claimed tick removes next_check_time.
  ASSERT_THAT(SetSchedule(id, "@every 1m"), ApiOk());
  ASSERT_TRUE(store_->PutTaskConfigs("d1", id, {{"CONSISTENCY_SCHEDULE", ""}}));
  clock_.Advance(minutes(2));
  EXPECT_EQ(scheduler_->RunOnce().fired, 0);
  EXPECT_FALSE(Task(id).next_check_at.has_value());
}

TEST_F(SchedulerTest, ATickThatCannotQueueIsLoggedAndTheScheduleGoesOn) {
  const std::string id = NewTask(/*with_dirs=*/false);
  ASSERT_THAT(SetSchedule(id, "@every 1m"), ApiOk());
  const int64_t first = *Task(id).next_check_at;
  AdvanceTo(first);
  SchedulerPass pass = scheduler_->RunOnce();
  EXPECT_EQ(pass.fired, 0);
  EXPECT_EQ(pass.failed, 1);
  EXPECT_EQ(Task(id).next_check_at, first + 60000);
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.back().find("CONSISTENCY_DIR"), std::string::npos)
      << log_.back();
}

TEST_F(SchedulerTest, ScheduleSettingIsCheckedWithTheMinimumInterval) {
  const std::string id = NewTask();
  EXPECT_THAT(SetSchedule(id, "@every 30s"),
              ApiFails(ApiCode::kMalformed,
                       "configurations[0].config_value: schedule: @every 30s "
                       "is shorter than the minimum of 60 s"));
  EXPECT_FALSE(Task(id).next_check_at.has_value());
  EXPECT_THAT(SetSchedule(id, "0 25 * * *"),
              ApiFails(ApiCode::kMalformed, "hour: 25 is outside 0-23"));
  // Tests may lower the minimum (SMS_TEST_SCHEDULE_MIN_INTERVAL).
  TaskService fast(*store_, clock_, {.min_schedule_interval_ms = 1000});
  EXPECT_THAT(fast.SetConfiguration(As(Role::kOperator), id,
                                    {{"CONSISTENCY_SCHEDULE", "@every 2s"}}),
              ApiOk());
  EXPECT_EQ(*Task(id).next_check_at % 2000, 0);
  // Another tenant's task is not found, and nothing is stored.
  EXPECT_THAT(tasks_->SetConfiguration(As(Role::kOperator, "d2"), id,
                                       {{"CONSISTENCY_SCHEDULE", "@every 1h"}}),
              ApiFails(ApiCode::kNotFound, ""));
}

TEST_F(SchedulerTest, ATickClaimedByAnotherReplicaIsNotFiredAgain) {
  const std::string id = NewTask();
  ASSERT_THAT(SetSchedule(id, "@every 1m"), ApiOk());
  const int64_t first = *Task(id).next_check_at;
  AdvanceTo(first);
  // Another replica claimed the tick and is firing it (its lease holds).
  auto other = store_->ClaimDueChecks(first, first + 60000, 10);
  ASSERT_TRUE(other.has_value());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ(scheduler_->RunOnce().fired, 0);
  // It died: once its lease is over, this replica takes the tick over,
  // once.
  AdvanceTo(first + 60000);
  SchedulerPass pass = scheduler_->RunOnce();
  EXPECT_EQ(pass.fired, 1);
  EXPECT_EQ(scheduler_->RunOnce().fired, 0);
}

}  // namespace
}  // namespace sms::server
