#include "storage/readiness_core.h"

#include <utility>

namespace sms::storage {
namespace {

// The verdict of one history; the persistence query is asked only for a
// run it has not been asked for yet (a batch's runs usually share it).
class Decider {
 public:
  Decider(ReadinessSql& sql, std::string domain_id, std::string task_id)
      : sql_(sql),
        domain_id_(std::move(domain_id)),
        task_id_(std::move(task_id)) {}

  Result<schedule::Readiness> Decide(
      const schedule::ReadinessHistory& history) {
    if (!settings_) {
      SMS_ASSIGN_OR_RETURN(settings_, sql_.Settings(domain_id_, task_id_));
    }
    schedule::Persistence persistence;
    if (const std::string* run_id = PersistenceRunId(history)) {
      if (persistence_run_ != *run_id) {
        SMS_ASSIGN_OR_RETURN(persistence_,
                             sql_.Persistence(domain_id_, *run_id));
        persistence_run_ = *run_id;
      }
      persistence = persistence_;
    }
    return DecideReadiness(*settings_, history, persistence);
  }

 private:
  ReadinessSql& sql_;
  const std::string domain_id_;
  const std::string task_id_;
  std::optional<std::map<std::string, std::string>> settings_;
  std::string persistence_run_;
  schedule::Persistence persistence_;
};

}  // namespace

Result<schedule::Readiness> StoreReadiness(
    ReadinessSql& sql, const std::string& domain_id, const std::string& task_id,
    const schedule::ReadinessHistory& history) {
  Decider decider(sql, domain_id, task_id);
  SMS_ASSIGN_OR_RETURN(schedule::Readiness r, decider.Decide(history));
  SMS_RETURN_IF_ERROR(sql.Store(domain_id, task_id, ToStored(r, &history)));
  return r;
}

Result<std::vector<std::string>> UpdateReadiness(
    ReadinessSql& sql, const std::vector<const Run*>& runs, const Task& before,
    std::optional<schedule::ReadinessHistory> stored) {
  std::vector<std::string> events(runs.size());
  if (runs.empty()) return events;
  const Run& first = *runs.front();
  const schedule::Readiness was = FromStored(before, first.committed_at);
  schedule::ReadinessStatus status = was.status;
  bool known = !before.readiness.empty();
  Decider decider(sql, first.domain_id, first.task_id);
  schedule::ReadinessHistory history;
  schedule::Readiness verdict;
  if (!stored) {  // the runs are stored already: the newest of them
    SMS_ASSIGN_OR_RETURN(history,
                         sql.FoldNewestRuns(first.domain_id, first.task_id));
    SMS_ASSIGN_OR_RETURN(verdict, decider.Decide(history));
    events.back() = ReadinessEvent(status, known, verdict.status);
  } else {
    history = std::move(*stored);
    for (size_t i = 0; i < runs.size(); ++i) {
      history = schedule::Fold(std::move(history), ReadinessRun(*runs[i]));
      SMS_ASSIGN_OR_RETURN(verdict, decider.Decide(history));
      events[i] = ReadinessEvent(status, known, verdict.status);
      // What the next run would read back from the task row.
      if (i + 1 < runs.size())
        status = schedule::AsOf(verdict, runs[i + 1]->committed_at).status;
      known = true;
    }
  }
  SMS_RETURN_IF_ERROR(
      sql.Store(first.domain_id, first.task_id, ToStored(verdict, &history)));
  return events;
}

Status RefreshReadiness(ReadinessSql& sql, const std::string& domain_id,
                        const std::string& task_id,
                        std::optional<schedule::ReadinessHistory> stored) {
  if (!stored) {
    SMS_ASSIGN_OR_RETURN(stored, sql.FoldNewestRuns(domain_id, task_id));
  }
  SMS_RETURN_IF_ERROR(StoreReadiness(sql, domain_id, task_id, *stored));
  return core::Ok();
}

}  // namespace sms::storage
