#include "server/result_service.h"

#include <utility>

#include "auth/crypto.h"

namespace sms::server {
namespace {

constexpr char kTaskNotFound[] = "The task does not exist.";
constexpr char kRunNotFound[] = "The run does not exist.";

}  // namespace

ResultService::ResultService(storage::Store& store, core::Clock& clock,
                             TaskService& tasks)
    : store_(store), clock_(clock), tasks_(tasks) {}

ApiResult<UploadOutcome> ResultService::Upload(const Identity& who,
                                               const std::string& task_id,
                                               const ResultUpload& upload) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kResultUpload));
  SMS_RETURN_IF_ERROR(
      tasks_.CheckTaskAccess(who, task_id, Action::kResultUpload));

  const int64_t now = clock_.NowEpochMillis();
  const int64_t finished = upload.finished_time.value_or(now);
  const storage::Run run{
      .run_id = upload.run_id.value_or(auth::NewUuid()),
      .domain_id = who.domain_id,
      .task_id = task_id,
      .started_time = upload.started_time.value_or(finished),
      .finished_time = finished,
      .check_result = upload.check_result.value_or("success"),
      .mode = upload.mode.value_or(""),
      .hash_algorithm = upload.hash_algorithm.value_or(""),
      .error_msg = upload.error_msg.value_or(""),
      .content_hash = upload.content_hash,
      .committed_at = now,
      .dirs = upload.dirs,
      .scope = upload.scope.value_or(""),
      .base_run_id = upload.base_run_id.value_or("")};
  if (run.started_time > run.finished_time)
    return Malformed("started_time", "later than finished_time");
  auto outcome = store_.CommitRun(run);
  if (!outcome) {
    if (outcome.error().code == core::ErrorCode::kAlreadyExists) {
      return ApiFail(ApiCode::kConflict,
                     "run_id: a run with this id was already committed with "
                     "different content");
    }
    return StoreFail(outcome.error(), kTaskNotFound);
  }
  const bool committed = *outcome == storage::CommitOutcome::kCommitted;
  if (committed) runs_committed_.fetch_add(1);
  return UploadOutcome{committed, run.run_id};
}

ApiResult<std::vector<storage::Run>> ResultService::Get(
    const Identity& who, const std::string& task_id, int limit) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kResultRead));
  SMS_ASSIGN_OR_RETURN(
      std::vector<storage::Run> runs,
      FromStore(store_.ListRuns(who.domain_id, task_id, limit), kTaskNotFound));
  // Runs of the task in this domain exist only while the task does (they
  // go with it): only an empty list needs the task looked up, to tell an
  // unknown task (404) from one not yet checked. One round trip less on
  // PostgreSQL.
  if (runs.empty()) SMS_RETURN_IF_ERROR(tasks_.LoadTask(who, task_id));
  return runs;
}

ApiResult<storage::Run> ResultService::GetOne(const Identity& who,
                                              const std::string& task_id,
                                              const std::string& run_id) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kResultRead));
  auto run = store_.GetRun(who.domain_id, run_id);
  if (run && run->task_id == task_id) return std::move(*run);
  if (!run && run.error().code != core::ErrorCode::kNotFound)
    return StoreFail(run.error(), kRunNotFound);
  // Runs go with their task: only a miss reads the task, to tell an unknown
  // task (404 naming the task) from a run it does not have (as Get does).
  SMS_RETURN_IF_ERROR(tasks_.LoadTask(who, task_id));
  return ApiFail(ApiCode::kNotFound, kRunNotFound);
}

ApiResult<StagedDetails> ResultService::UploadDetails(
    const Identity& who, const std::string& task_id,
    storage::DetailChunk chunk) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kResultUpload));
  chunk.domain_id = who.domain_id;
  chunk.task_id = task_id;
  chunk.created_at = clock_.NowEpochMillis();
  SMS_RETURN_IF_ERROR(
      tasks_.CheckTaskAccess(who, task_id, Action::kResultUpload));
  auto staged = store_.StageDetails(chunk);
  if (!staged) {
    if (staged.error().code == core::ErrorCode::kAlreadyExists)
      return ApiFail(ApiCode::kConflict,
                     "seq: chunk " + std::to_string(chunk.seq) +
                         " of this run was already uploaded with different "
                         "content");
    if (staged.error().code == core::ErrorCode::kFailedPrecondition)
      return ApiFail(ApiCode::kBadState,
                     "run_id: the run is already committed; details must be "
                     "uploaded before the result");
    return StoreFail(staged.error(), kTaskNotFound);
  }
  return StagedDetails{.run_id = chunk.run_id,
                       .seq = chunk.seq,
                       .count = static_cast<int64_t>(chunk.files.size()),
                       .staged = *staged == storage::StageOutcome::kStaged};
}

ApiResult<DetailListing> ResultService::ListDetails(const Identity& who,
                                                    const std::string& task_id,
                                                    const DetailListQuery& q) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kDetailsRead));
  SMS_RETURN_IF_ERROR(
      tasks_.CheckTaskAccess(who, task_id, Action::kDetailsRead));
  storage::DetailQuery dq{.dir_check = q.dir_check,
                          .status = q.status,
                          // One more tells whether a next page exists.
                          .limit = q.limit + 1,
                          .after_seq = q.after_seq,
                          .after_idx = q.after_idx};
  if (q.run_id) {
    if (!auth::IsUuid(*q.run_id))
      return Malformed("run_id", "expected a lower-case UUID");
    SMS_ASSIGN_OR_RETURN(
        storage::Run run,
        FromStore(store_.GetRun(who.domain_id, *q.run_id), kRunNotFound));
    if (run.task_id != task_id)
      return ApiFail(ApiCode::kNotFound, kRunNotFound);
    dq.run_id = *q.run_id;
  } else {
    SMS_ASSIGN_OR_RETURN(
        std::vector<storage::Run> runs,
        FromStore(store_.ListRuns(who.domain_id, task_id, 1), kTaskNotFound));
    if (runs.empty()) return ApiFail(ApiCode::kNotFound, kRunNotFound);
    dq.run_id = runs.front().run_id;
  }
  SMS_ASSIGN_OR_RETURN(
      storage::DetailPage page,
      FromStore(store_.ListDetails(who.domain_id, dq), kRunNotFound));
  DetailListing out{.task_id = task_id,
                    .run_id = dq.run_id,
                    .total = page.total,
                    .rows = std::move(page.rows),
                    .more = false};
  if (static_cast<int>(out.rows.size()) > q.limit) {
    out.rows.resize(q.limit);
    out.more = true;
  }
  return out;
}

}  // namespace sms::server
