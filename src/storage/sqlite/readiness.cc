// SqliteStore (store_impl.h): the cut-over verdict (issue 13.3), evaluated
// from the task's newest runs and their per-directory counters (never from
// details loaded whole: one aggregate over the newest inconsistent run's
// details says how long its differences have persisted) and stored on the
// task's row; storage/readiness_rules.h holds what both backends share.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "storage/readiness_rules.h"
#include "storage/rows.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

Result<schedule::Readiness> SqliteStore::EvaluateReadinessOn(
    sqlite3* db, const std::string& domain_id, const std::string& task_id) {
  std::map<std::string, std::string> cfg;
  {
    SMS_PREPARE_(q, db,
                 "SELECT c.config_key, c.config_value FROM task_configs c"
                 " JOIN tasks t ON t.id = c.task_id WHERE t.domain_id = ?"
                 " AND t.id = ?");
    q.Bind(domain_id).Bind(task_id);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      cfg[q.Text(0)] = q.Text(1);
    }
  }
  std::vector<Run> runs;
  {
    static const std::string kSql =
        std::string("SELECT ") + rows::kRunColumns +
        " FROM runs WHERE domain_id = ? AND task_id = ?"
        " ORDER BY seq DESC LIMIT ?";
    SMS_PREPARE_(q, db, kSql.c_str());
    q.Bind(domain_id).Bind(task_id).Bind(kReadinessRuns);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      runs.push_back(rows::ReadRun(q));
    }
  }
  std::map<std::string, Run*> by_id;
  for (Run& r : runs) by_id[r.run_id] = &r;
  if (!runs.empty()) {
    static const std::string kDirs =
        std::string("SELECT run_id, ") + rows::kDirColumns +
        " FROM run_dirs WHERE domain_id = ?1 AND run_id IN"
        " (SELECT run_id FROM runs WHERE domain_id = ?1 AND"
        "  task_id = ?2 ORDER BY seq DESC LIMIT ?3)"
        " ORDER BY run_id, idx";
    SMS_PREPARE_(q, db, kDirs.c_str());
    q.Bind(domain_id).Bind(task_id).Bind(kReadinessRuns);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      auto it = by_id.find(q.Text(0));
      if (it != by_id.end()) it->second->dirs.push_back(rows::ReadDir(q, 1));
    }
  }
  std::vector<schedule::RunSummary> summaries;
  for (const Run& r : runs) summaries.push_back(ReadinessRun(r));
  schedule::Persistence persistence;
  if (const schedule::RunSummary* newest = PersistenceRun(summaries)) {
    // Of its differing files, those first seen by an earlier run.
    SMS_PREPARE_(
        q, db,
        "SELECT count(*), min(r.started_time) FROM file_details f"
        " JOIN runs r ON r.domain_id = f.domain_id"
        " AND r.run_id = f.first_seen_run"
        " WHERE f.domain_id = ? AND f.run_id = ?"
        " AND f.first_seen_run <> '' AND f.first_seen_run <> f.run_id");
    q.Bind(domain_id).Bind(newest->run_id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row)
      persistence = {.count = q.Int(0), .oldest_first_seen_ms = q.Int(1)};
  }
  const schedule::ReadinessSettings settings = schedule::ReadReadinessSettings(
      cfg["CONSISTENCY_DIR"], cfg["CONSISTENCY_READY_RUNS"],
      cfg["CONSISTENCY_READY_MAX_AGE"]);
  return schedule::EvaluateReadiness(settings.dirs, summaries, settings.policy,
                                     persistence);
}

Result<schedule::Readiness> SqliteStore::StoreReadinessOn(
    sqlite3* db, const std::string& domain_id, const std::string& task_id) {
  SMS_ASSIGN_OR_RETURN(schedule::Readiness r,
                       EvaluateReadinessOn(db, domain_id, task_id));
  const StoredReadiness s = ToStored(r);
  SMS_PREPARE_(q, db,
               "UPDATE tasks SET readiness = ?, readiness_since = ?,"
               " readiness_reasons = ?, readiness_stale_at = ?"
               " WHERE domain_id = ? AND id = ?");
  q.Bind(s.status).Bind(s.since).Bind(s.reasons).Bind(s.stale_at);
  q.Bind(domain_id).Bind(task_id);
  SMS_RETURN_IF_ERROR(q.Exec());
  if (sqlite3_changes(db) == 0) return Fail(core::NotFound("task not found"));
  return r;
}

Result<std::string> SqliteStore::UpdateReadinessOn(sqlite3* db,
                                                   const Run& run) {
  SMS_ASSIGN_OR_RETURN(Task before, GetTaskOn(db, run.domain_id, run.task_id));
  const schedule::Readiness was = FromStored(before, run.committed_at);
  SMS_ASSIGN_OR_RETURN(schedule::Readiness now,
                       StoreReadinessOn(db, run.domain_id, run.task_id));
  return ReadinessEvent(was.status, !before.readiness.empty(), now.status);
}

Status SqliteStore::RefreshReadiness(const std::string& domain_id,
                                     const std::string& task_id) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_RETURN_IF_ERROR(StoreReadinessOn(c.db, domain_id, task_id));
  return txn.Commit();
}

}  // namespace sms::storage::sqlite
