#include "server/command_service.h"

namespace sms::server {

using storage::CommandName;
using storage::CommandState;
using storage::TaskEvent;
using storage::TaskState;
namespace {

constexpr char kSourceNotFound[] = "The source server does not exist.";

// A compare-and-set transition that lost to a concurrent one (the run was
// committed first, the task was deleted) is what we want, not an error.
ApiStatus IgnoreLostRace(core::Status s) {
  if (!s && s.error().code != core::ErrorCode::kFailedPrecondition &&
      s.error().code != core::ErrorCode::kNotFound)
    return StoreFail(s.error(), "");
  return {};
}

// The run a check's report names (`result_detail.run_id`), or "".
std::string ReportedRunId(const std::string& result_detail) {
  auto detail = ParseJsonObject(result_detail);
  if (!detail) return "";
  const json::value* run_id = detail->if_contains("run_id");
  if (run_id == nullptr || !run_id->is_string()) return "";
  return std::string(run_id->get_string());
}

}  // namespace

CommandService::CommandService(storage::Store& store, core::Clock& clock,
                               Heartbeats* heartbeats)
    : store_(store), clock_(clock), heartbeats_(heartbeats) {}

ApiStatus CommandService::CheckOwnSource(const Identity& who,
                                         const std::string& id) {
  // The owner alone (held by a read cache: storage/caching_store.h), not
  // the whole source, whose last_seen_at every heartbeat flush writes.
  SMS_ASSIGN_OR_RETURN(
      std::string owner,
      FromStore(store_.GetSourceOwner(who.domain_id, id), kSourceNotFound));
  if (who.role == storage::Role::kAgent && owner != who.user_id) {
    return ApiFail(ApiCode::kForbidden,
                   "You do not have permission to perform action "
                   "sms:server:command on a source registered by another "
                   "agent.");
  }
  return {};
}

ApiResult<std::optional<storage::Command>> CommandService::PollCommand(
    const Identity& who, const std::string& source_id) {
  SMS_RETURN_IF_ERROR(CheckPoll(who, source_id));
  return HandOut(who, source_id);
}

ApiStatus CommandService::CheckPoll(const Identity& who,
                                    const std::string& source_id) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kAgentLoop));
  return CheckOwnSource(who, source_id);
}

ApiResult<std::optional<storage::Command>> CommandService::HandOut(
    const Identity& who, const std::string& source_id) {
  const int64_t now = clock_.NowEpochMillis();
  if (heartbeats_ != nullptr) {
    heartbeats_->Record(who.domain_id, source_id, now);
  } else {
    SMS_RETURN_IF_ERROR(FromStore(
        store_.RecordHeartbeats({{who.domain_id, source_id, now}}), ""));
  }
  return FromStore(store_.NextCommand(who.domain_id, source_id, now),
                   kSourceNotFound);
}

// sms-agent reports a check's result after uploading its run, whose commit
// already finished the command and moved the task on: that report is
// acknowledged (not refused as "no command waiting"), when the run it names
// is committed in a task of this source.
bool CommandService::FinishedByItsUpload(const Identity& who,
                                         const std::string& source_id,
                                         const CommandResultRequest& req) {
  if (req.name != CommandName::kConsistencyCheck) return false;
  const std::string run_id = ReportedRunId(req.result_detail);
  if (run_id.empty()) return false;
  auto run = store_.GetRun(who.domain_id, run_id);
  if (!run) return false;
  auto task = store_.GetTask(who.domain_id, run->task_id);
  return task && task->source_id == source_id;
}

ApiStatus CommandService::CommandResult(const Identity& who,
                                        const std::string& source_id,
                                        const CommandResultRequest& req) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kAgentLoop));
  SMS_RETURN_IF_ERROR(CheckOwnSource(who, source_id));
  // A check's report names its run: a second check of the source may have
  // been delivered since (the agent queues it), and must not be finished by
  // the first one's report. A report without a run id (an older agent, a
  // STOP) is the latest delivered command of its name.
  const std::string run_id = req.name == CommandName::kConsistencyCheck
                                 ? ReportedRunId(req.result_detail)
                                 : std::string();
  auto cmd =
      run_id.empty()
          ? store_.LatestDeliveredCommand(who.domain_id, source_id, req.name)
          : store_.DeliveredCommandOfRun(who.domain_id, source_id, run_id);
  if (!cmd) {
    if (cmd.error().code == core::ErrorCode::kNotFound &&
        FinishedByItsUpload(who, source_id, req))
      return {};  // the agent's report after its upload: nothing left to do
    if (cmd.error().code == core::ErrorCode::kNotFound)
      return ApiFail(ApiCode::kBadState,
                     "command_name: no delivered " +
                         std::string(storage::ToText(req.name)) +
                         " command is waiting for a result");
    return StoreFail(cmd.error(), "");
  }
  const int64_t now = clock_.NowEpochMillis();
  SMS_RETURN_IF_ERROR(FromStore(
      store_.FinishCommand(who.domain_id, cmd->id, CommandState::kDone,
                           req.success ? "success" : "fail", req.result_detail,
                           now),
      ""));
  // Move the task on.
  if (req.name == CommandName::kStop) {
    return IgnoreLostRace(store_.UpdateTaskState(
        who.domain_id, cmd->task_id, TaskState::kAborting,
        *NextTaskState(TaskState::kAborting, TaskEvent::kStopAcknowledged),
        cmd->run_id, now));
  }
  if (!req.success) {
    auto task = store_.GetTask(who.domain_id, cmd->task_id);
    if (task && task->current_run_id == cmd->run_id) {
      return IgnoreLostRace(store_.UpdateTaskState(
          who.domain_id, cmd->task_id, TaskState::kRunning,
          *NextTaskState(TaskState::kRunning, TaskEvent::kCheckFailed),
          cmd->run_id, now));
    }
  }
  return {};
}

}  // namespace sms::server
