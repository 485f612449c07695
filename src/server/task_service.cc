#include "server/task_service.h"

#include <map>
#include <utility>

#include "auth/crypto.h"
#include "core/strings.h"
#include "schedule/schedule.h"
#include "server/codec/source_codec.h"
#include "storage/readiness_rules.h"

namespace sms::server {

using auth::NewUuid;
using storage::CommandName;
using storage::CommandState;
using storage::Role;
using storage::TaskEvent;
using storage::TaskState;
namespace {

constexpr char kTaskNotFound[] = "The task does not exist.";
constexpr char kSourceNotFound[] = "The source server does not exist.";

// The operations of the migration service that this one does not perform.
constexpr const char* kMigrationOps[] = {
    "start",         "restart",     "test",  "clone_test", "sync",
    "network_check", "collect_log", "pause", "resume"};

}  // namespace

TaskService::TaskService(storage::Store& store, core::Clock& clock,
                         TaskServiceOptions options)
    : store_(store), clock_(clock), options_(options) {}

ApiResult<storage::Task> TaskService::LoadTask(const Identity& who,
                                               const std::string& id) {
  return FromStore(store_.GetTask(who.domain_id, id), kTaskNotFound);
}

ApiStatus TaskService::CheckTaskAccess(const Identity& who,
                                       const std::string& task_id,
                                       Action action) {
  SMS_ASSIGN_OR_RETURN(
      std::string source_id,
      FromStore(store_.GetTaskSource(who.domain_id, task_id), kTaskNotFound));
  if (who.role != Role::kAgent) return {};
  // The owner alone, held by the read cache like the poll's check
  // (CommandService::CheckOwnSource), not the whole source row.
  auto owner = store_.GetSourceOwner(who.domain_id, source_id);
  if (!owner && owner.error().code != core::ErrorCode::kNotFound)
    return StoreFail(owner.error(), kSourceNotFound);
  if (!owner || *owner != who.user_id) {
    return ApiFail(ApiCode::kForbidden,
                   "You do not have permission to perform action " +
                       std::string(ActionName(action)) +
                       " on a task whose source is not yours.");
  }
  return {};
}

ApiResult<storage::Task> TaskService::CreateTask(const Identity& who,
                                                 const CreateTaskRequest& req) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kTaskWrite));
  SMS_RETURN_IF_ERROR(FromStore(store_.GetSource(who.domain_id, req.source_id),
                                kSourceNotFound));
  const int64_t now = clock_.NowEpochMillis();
  storage::Task t{.id = NewUuid(),
                  .domain_id = who.domain_id,
                  .name = req.name,
                  .type = req.type,
                  .os_type = req.os_type,
                  .source_id = req.source_id,
                  .target_name = req.target_name,
                  .target_ip = req.target_ip,
                  .target_verify_uri = req.target_verify_uri,
                  .is_need_consistency_check = req.is_need_consistency_check,
                  .state = TaskState::kReady,
                  .created_at = now,
                  .updated_at = now};
  // No run yet: not ready, and why (issue 13.3).
  const storage::StoredReadiness verdict =
      storage::ToStored(schedule::EvaluateReadiness({}, {}, {}));
  t.readiness = verdict.status;
  t.readiness_reasons = verdict.reasons;
  SMS_RETURN_IF_ERROR(FromStore(store_.CreateTask(t), ""));
  return t;
}

ApiResult<storage::Page<TaskView>> TaskService::ListTasks(
    const Identity& who, const storage::TaskFilter& filter) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kTaskRead));
  const int64_t now = clock_.NowEpochMillis();
  storage::TaskFilter f = filter;
  f.now = now;  // a ready verdict past its maximum age sorts as stale
  SMS_ASSIGN_OR_RETURN(storage::Page<storage::Task> page,
                       FromStore(store_.ListTasks(who.domain_id, f), ""));
  // One lookup per source, however many of its tasks the page holds.
  std::map<std::string, std::string> source_names;
  storage::Page<TaskView> out{.count = page.count, .items = {}};
  for (storage::Task& t : page.items) {
    auto cached = source_names.find(t.source_id);
    if (cached == source_names.end()) {
      std::string name;
      if (auto s = store_.GetSource(t.domain_id, t.source_id)) name = s->name;
      cached = source_names.emplace(t.source_id, std::move(name)).first;
    }
    schedule::Readiness readiness = storage::FromStored(t, now);
    out.items.push_back(
        TaskView{std::move(t), cached->second, std::move(readiness)});
  }
  return out;
}

ApiResult<TaskView> TaskService::ShowTask(const Identity& who,
                                          const std::string& id) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kTaskRead));
  SMS_ASSIGN_OR_RETURN(storage::Task t, LoadTask(who, id));
  std::string source_name;
  if (auto s = store_.GetSource(t.domain_id, t.source_id))
    source_name = s->name;
  schedule::Readiness readiness =
      storage::FromStored(t, clock_.NowEpochMillis());
  return TaskView{std::move(t), std::move(source_name), std::move(readiness)};
}

ApiStatus TaskService::DeleteTask(const Identity& who, const std::string& id) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kTaskWrite));
  return FromStore(store_.DeleteTask(who.domain_id, id), kTaskNotFound);
}

ApiStatus TaskService::SetConfiguration(
    const Identity& who, const std::string& id,
    const std::vector<storage::ConfigEntry>& entries) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kTaskWrite));
  // The schedule's first tick, checked before anything is stored. The
  // last entry for a key wins, as it does in the store.
  std::optional<std::optional<int64_t>> next_check;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].key != kScheduleSetting) continue;
    if (core::TrimSpace(entries[i].value).empty()) {
      next_check = std::optional<int64_t>();
      continue;
    }
    const std::string path =
        "configurations[" + std::to_string(i) + "].config_value";
    auto sched = schedule::ParseSchedule(entries[i].value,
                                         options_.min_schedule_interval_ms);
    if (!sched) return Malformed(path, sched.error().message);
    auto next = schedule::NextDue(*sched, clock_.NowEpochMillis());
    if (!next) return Malformed(path, next.error().message);
    next_check = *next;
  }
  SMS_RETURN_IF_ERROR(FromStore(
      store_.PutTaskConfigs(who.domain_id, id, entries), kTaskNotFound));
  if (next_check) {
    SMS_RETURN_IF_ERROR(FromStore(
        store_.SetNextCheck(who.domain_id, id, *next_check), kTaskNotFound));
  }
  // A setting the cut-over verdict depends on: re-evaluated now.
  for (const storage::ConfigEntry& e : entries) {
    if (!storage::IsReadinessSetting(e.key)) continue;
    return FromStore(store_.RefreshReadiness(who.domain_id, id), kTaskNotFound);
  }
  return {};
}

ApiResult<std::vector<storage::ConfigEntry>> TaskService::GetConfiguration(
    const Identity& who, const std::string& id,
    const std::optional<std::string>& key) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kTaskRead));
  SMS_ASSIGN_OR_RETURN(
      std::vector<storage::ConfigEntry> entries,
      FromStore(store_.GetTaskConfigs(who.domain_id, id), kTaskNotFound));
  if (key) std::erase_if(entries, [&](const auto& e) { return e.key != *key; });
  return entries;
}

ApiResult<ActionOutcome> TaskService::RunAction(const Identity& who,
                                                const std::string& id,
                                                const ActionRequest& req) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kTaskWrite));
  SMS_ASSIGN_OR_RETURN(storage::Task task, LoadTask(who, id));
  const int64_t now = clock_.NowEpochMillis();
  const std::string& op = req.operation;
  if (op == "consistency_check") return QueueCheck(who, task, req.scope, now);
  if (op == "stop" || op == "skip")
    return StopOrSkip(who, task, op == "stop", now);
  for (const char* m : kMigrationOps) {
    if (op == m) {
      return ApiFail(ApiCode::kBadState,
                     "operation " + op +
                         ": this service verifies consistency and does not "
                         "migrate; use consistency_check, stop or skip");
    }
  }
  return Malformed("operation", "must be one of consistency_check, stop, skip");
}

namespace {

tl::unexpected<ApiError> BadState(std::string_view op,
                                  const storage::Task& task,
                                  const std::string& why) {
  return ApiFail(ApiCode::kBadState, "operation " + std::string(op) + ": " +
                                         why + " (task state " +
                                         std::string(ToText(task.state)) + ")");
}

}  // namespace

ApiResult<std::string> TaskService::LastSuccessfulRun(
    const Identity& who, const storage::Task& task) {
  SMS_ASSIGN_OR_RETURN(
      std::vector<storage::Run> runs,
      FromStore(store_.ListRuns(who.domain_id, task.id, 100), kTaskNotFound));
  for (const storage::Run& r : runs)
    if (r.check_result == "success") return r.run_id;
  return std::string();
}

ApiResult<ActionOutcome> TaskService::QueueCheck(const Identity& who,
                                                 const storage::Task& task,
                                                 const std::string& scope,
                                                 int64_t now) {
  constexpr std::string_view kOp = "consistency_check";
  std::optional<TaskState> running =
      NextTaskState(task.state, TaskEvent::kCheckQueued);
  if (!running)
    return BadState(kOp, task, "a check is already queued or running");
  if (task.target_verify_uri.empty())
    return BadState(kOp, task, "target_server.verify_uri is not set");
  SMS_ASSIGN_OR_RETURN(
      std::vector<storage::ConfigEntry> entries,
      FromStore(store_.GetTaskConfigs(who.domain_id, task.id), kTaskNotFound));
  SMS_ASSIGN_OR_RETURN(CheckSettings settings, ResolveCheckSettings(entries));
  if (settings.dirs.empty())
    return BadState(kOp, task, "configure CONSISTENCY_DIR first");
  std::string base_run_id;
  if (scope == "inconsistent") {
    SMS_ASSIGN_OR_RETURN(base_run_id, LastSuccessfulRun(who, task));
    if (base_run_id.empty()) {
      return BadState(kOp, task,
                      "scope inconsistent: the task has no successful run "
                      "whose differences could be checked again");
    }
  }
  const std::string run_id = NewUuid();
  const CheckCommandParam param{
      .task_id = task.id,
      .run_id = run_id,
      .dirs = std::move(settings.dirs),
      .mode = std::move(settings.mode),
      .hash_algorithm = std::move(settings.hash_algorithm),
      .exclude = std::move(settings.exclude),
      .io_limit = settings.io_limit,
      .verify_uri = task.target_verify_uri,
      .scope = scope,
      .base_run_id = base_run_id,
      .cache = settings.cache,
      .push_agent = settings.push_agent};
  const storage::Command cmd{.domain_id = who.domain_id,
                             .source_id = task.source_id,
                             .task_id = task.id,
                             .run_id = run_id,
                             .name = CommandName::kConsistencyCheck,
                             .param_json = EncodeCheckParam(param),
                             .state = CommandState::kPending,
                             .created_at = now,
                             .updated_at = now};
  SMS_RETURN_IF_ERROR(FromStore(
      store_.EnqueueCommand(cmd, task.state, *running), kTaskNotFound));
  return ActionOutcome{.run_id = run_id};
}

ApiResult<ActionOutcome> TaskService::StopOrSkip(const Identity& who,
                                                 const storage::Task& task,
                                                 bool stop, int64_t now) {
  const std::string_view op = stop ? "stop" : "skip";
  if (task.state != TaskState::kRunning)
    return BadState(op, task, "no check is queued or running");
  SMS_ASSIGN_OR_RETURN(
      storage::Command latest,
      FromStore(store_.LatestTaskCommand(who.domain_id, task.id),
                kTaskNotFound));
  bool queued = latest.name == CommandName::kConsistencyCheck &&
                latest.state == CommandState::kPending;
  if (queued) {
    // Compare-and-set: the agent may poll it between our read and now.
    auto cancelled = store_.CancelPendingCommand(who.domain_id, latest.id, now);
    if (!cancelled &&
        cancelled.error().code != core::ErrorCode::kFailedPrecondition)
      return StoreFail(cancelled.error(), kTaskNotFound);
    queued = cancelled.has_value();
  }
  if (queued) {
    const TaskState next = *NextTaskState(
        TaskState::kRunning,
        stop ? TaskEvent::kQueuedCheckStopped : TaskEvent::kQueuedCheckSkipped);
    SMS_RETURN_IF_ERROR(FromStore(
        store_.UpdateTaskState(who.domain_id, task.id, TaskState::kRunning,
                               next, task.current_run_id, now),
        kTaskNotFound));
    return ActionOutcome{};
  }
  if (!stop) return BadState(op, task, "the check is already running");
  const storage::Command cmd{
      .domain_id = who.domain_id,
      .source_id = task.source_id,
      .task_id = task.id,
      .run_id = task.current_run_id,
      .name = CommandName::kStop,
      .param_json = EncodeStopParam(task.id, task.current_run_id),
      .state = CommandState::kPending,
      .created_at = now,
      .updated_at = now};
  SMS_RETURN_IF_ERROR(FromStore(
      store_.EnqueueCommand(
          cmd, TaskState::kRunning,
          *NextTaskState(TaskState::kRunning, TaskEvent::kStopQueued)),
      kTaskNotFound));
  return ActionOutcome{};
}

}  // namespace sms::server
