#include "storage/commit_rules.h"

namespace sms::storage {
namespace {

using core::Fail;
using core::Ok;

bool SameUpload(const std::string& domain_id, const std::string& task_id,
                const std::string& content_hash, const StoredUpload& stored) {
  return stored.domain_id == domain_id && stored.task_id == task_id &&
         stored.content_hash == content_hash;
}

}  // namespace

Result<CommitOutcome> RepeatedCommit(const Run& run,
                                     const StoredUpload& stored) {
  if (SameUpload(run.domain_id, run.task_id, run.content_hash, stored))
    return CommitOutcome::kAlreadyCommitted;
  return Fail(
      core::AlreadyExists("run_id: already committed with different content"));
}

Status CheckRunIdOwner(bool staged_by_another) {
  if (staged_by_another)
    return Fail(core::AlreadyExists("run_id: used by another task"));
  return Ok();
}

std::optional<TaskState> TaskStateAfterCommit(const Task& task,
                                              const Run& run) {
  if (task.current_run_id != run.run_id) return std::nullopt;
  return NextTaskState(task.state, TaskEvent::kRunCommitted);
}

Status CheckRunNotCommitted(bool committed) {
  if (committed)
    return Fail(
        core::FailedPrecondition("run_id: the run is already committed"));
  return Ok();
}

Result<StageOutcome> RepeatedStage(const DetailChunk& chunk,
                                   const StoredUpload& stored) {
  if (SameUpload(chunk.domain_id, chunk.task_id, chunk.content_hash, stored))
    return StageOutcome::kAlreadyStaged;
  return Fail(core::AlreadyExists(
      "seq: chunk already uploaded with different content"));
}

std::string RunIdAfterEnqueue(const Command& command, const Task& task) {
  return command.name == CommandName::kConsistencyCheck ? command.run_id
                                                        : task.current_run_id;
}

}  // namespace sms::storage
