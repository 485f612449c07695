#include "server/scheduler.h"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <utility>

#include "schedule/schedule.h"
#include "server/json_fields.h"
#include "server/task_settings.h"

namespace sms::server {
namespace {

// Who queues a scheduled check: an operator of the task's own domain, so
// RunAction applies exactly the rules it applies to a person.
Identity SchedulerIdentity(const std::string& domain_id) {
  return Identity{.domain_id = domain_id,
                  .domain_name = "",
                  .user_id = "scheduler",
                  .user_name = "scheduler",
                  .role = storage::Role::kOperator,
                  .method = "schedule"};
}

bool CheckGoing(storage::TaskState s) {
  return s == storage::TaskState::kRunning ||
         s == storage::TaskState::kAborting;
}

}  // namespace

core::Result<ScheduleSettings> ScheduleSettings::FromEnvironment() {
  ScheduleSettings s;
  if (const char* v = std::getenv("SMS_TEST_SCHEDULE_MIN_INTERVAL"); v && *v) {
    auto ms = schedule::ParseDurationMs(v);
    if (!ms)
      return core::Fail(core::InvalidArgument(
          "SMS_TEST_SCHEDULE_MIN_INTERVAL: " + ms.error().message));
    s.min_interval_ms = *ms;
    s.scheduler.poll_ms = 200;
  }
  return s;
}

Scheduler::Scheduler(storage::Store& store, core::Clock& clock,
                     TaskService& tasks, SchedulerOptions options,
                     std::function<void(const std::string&)> log)
    : store_(store),
      clock_(clock),
      tasks_(tasks),
      options_(options),
      log_(std::move(log)),
      worker_(std::chrono::milliseconds(options_.poll_ms)) {}

Scheduler::~Scheduler() { Stop(); }

SchedulerPass Scheduler::RunOnce() {
  SchedulerPass pass;
  const int64_t now = clock_.NowEpochMillis();
  auto due =
      store_.ClaimDueChecks(now, now + options_.lease_ms, options_.batch);
  if (!due) {
    log_(ToJson(json::object{{"level", "warn"},
                             {"msg", "schedule: claiming due checks failed"},
                             {"error", due.error().ToString()}}));
    return pass;
  }
  for (const storage::DueCheck& d : *due) Handle(d, now, pass);
  return pass;
}

void Scheduler::Handle(const storage::DueCheck& due, int64_t now,
                       SchedulerPass& pass) {
  auto note = [&](const char* level, const char* msg, json::object extra) {
    extra["level"] = level;
    extra["msg"] = msg;
    extra["task_id"] = due.task_id;
    extra["due_at"] = due.due_at;
    log_(ToJson(extra));
  };
  auto finish = [&](std::optional<int64_t> next, bool skipped) {
    auto s = store_.FinishDueCheck(due, next, skipped);
    // kFailedPrecondition: the schedule was changed meanwhile (its new
    // next_check_at stands) or another replica took the tick over.
    if (!s && s.error().code != core::ErrorCode::kFailedPrecondition)
      note("warn", "schedule: storing the next check failed",
           {{"error", s.error().ToString()}});
  };
  auto configs = store_.GetTaskConfigs(due.domain_id, due.task_id);
  if (!configs) {
    // A deleted task took its schedule with it; anything else is retried
    // by whichever replica claims the tick when the lease runs out.
    if (configs.error().code != core::ErrorCode::kNotFound)
      note("warn", "schedule: reading the task failed",
           {{"error", configs.error().ToString()}});
    return;
  }
  const std::string text = SettingValue(*configs, kScheduleSetting);
  if (text.empty()) return finish(std::nullopt, false);
  // The minimum interval was enforced when the schedule was set.
  auto sched = schedule::ParseSchedule(text, /*min_every_ms=*/1);
  auto task = store_.GetTask(due.domain_id, due.task_id);
  if (!sched || !task) {
    ++pass.failed;
    note("warn", "schedule: cannot plan the check",
         {{"error", !sched ? sched.error().message : task.error().ToString()}});
    if (!sched) finish(std::nullopt, false);
    return;
  }
  auto plan =
      schedule::PlanTick(*sched, due.due_at, now, CheckGoing(task->state));
  if (!plan) {
    ++pass.failed;
    note("warn", "schedule: cannot plan the check",
         {{"error", plan.error().message}});
    return finish(std::nullopt, false);
  }
  bool skipped = plan->skip;
  if (plan->fire) {
    auto queued =
        tasks_.RunAction(SchedulerIdentity(due.domain_id), due.task_id,
                         ActionRequest{.operation = "consistency_check"});
    if (queued) {
      ++pass.fired;
      if (plan->catch_up) ++pass.catch_up;
      note("info",
           plan->catch_up ? "schedule: check queued (one catch-up for the "
                            "ticks missed while the server was down)"
                          : "schedule: check queued",
           {{"run_id", queued->run_id}});
    } else {
      // A check queued by someone else since we read the task is a skip;
      // anything else (no CONSISTENCY_DIR, no verify_uri) is this tick's
      // failure, logged with the reason; the schedule goes on.
      auto again = store_.GetTask(due.domain_id, due.task_id);
      skipped = again && CheckGoing(again->state);
      if (!skipped) {
        ++pass.failed;
        note("warn", "schedule: the check could not be queued",
             {{"error", queued.error().message}});
      }
    }
  }
  if (skipped) {
    ++pass.skipped;
    note("info", "schedule: tick skipped, a check of the task is still going",
         {});
  }
  finish(plan->next_at, skipped);
}

void Scheduler::Start() {
  worker_.Start([this] {
    const SchedulerPass pass = RunOnce();
    // A full batch: more may be due at once.
    return pass.fired + pass.skipped + pass.failed >= options_.batch;
  });
}

void Scheduler::Stop() { worker_.Stop(); }

}  // namespace sms::server
