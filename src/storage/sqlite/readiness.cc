// SqliteStore (store_impl.h): the cut-over verdict (issue 13.3). The task
// row keeps the verdict and the history it was decided from
// (tasks.readiness_history); committing a run folds that run into the
// history, so a commit reads no other run. Only a task without a usable
// history (stored before it, or damaged) folds its newest runs once. How
// long differences have persisted comes from one aggregate over the newest
// inconsistent run's details, never from details loaded whole. The SQL
// only: storage/readiness_core.cc folds and decides, for both backends.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/readiness_core.h"
#include "storage/rows.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

Result<std::optional<schedule::ReadinessHistory>>
SqliteStore::ReadReadinessHistoryOn(sqlite3* db, const std::string& domain_id,
                                    const std::string& task_id) {
  SMS_PREPARE_(q, db,
               "SELECT readiness_history FROM tasks WHERE domain_id = ?"
               " AND id = ?");
  q.Bind(domain_id).Bind(task_id);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("task not found"));
  return UsableHistory(q.Text(0));
}

// ReadinessSql on the writer, inside its transaction.
class SqliteStore::ReadinessOn final : public ReadinessSql {
 public:
  explicit ReadinessOn(sqlite3* db) : db_(db) {}

  Result<std::map<std::string, std::string>> Settings(
      const std::string& domain_id, const std::string& task_id) override {
    SMS_PREPARE_(q, db_,
                 "SELECT c.config_key, c.config_value FROM task_configs c"
                 " JOIN tasks t ON t.id = c.task_id WHERE t.domain_id = ?"
                 " AND t.id = ?");
    q.Bind(domain_id).Bind(task_id);
    std::map<std::string, std::string> cfg;
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      cfg[q.Text(0)] = q.Text(1);
    }
    return cfg;
  }

  Result<schedule::Persistence> Persistence(
      const std::string& domain_id, const std::string& run_id) override {
    SMS_PREPARE_(
        q, db_,
        "SELECT count(*), min(r.started_time) FROM file_details f"
        " JOIN runs r ON r.domain_id = f.domain_id"
        " AND r.run_id = f.first_seen_run"
        " WHERE f.domain_id = ? AND f.run_id = ?"
        " AND f.first_seen_run <> '' AND f.first_seen_run <> f.run_id");
    q.Bind(domain_id).Bind(run_id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return schedule::Persistence{};
    return schedule::Persistence{.count = q.Int(0),
                                 .oldest_first_seen_ms = q.Int(1)};
  }

  Result<schedule::ReadinessHistory> FoldNewestRuns(
      const std::string& domain_id, const std::string& task_id) override {
    static const std::string kSql =
        std::string("SELECT ") + rows::kRunColumns +
        ", dirs FROM runs WHERE domain_id = ? AND task_id = ?"
        " ORDER BY seq DESC LIMIT ?";
    SMS_PREPARE_(q, db_, kSql.c_str());
    q.Bind(domain_id).Bind(task_id).Bind(kReadinessRuns);
    SMS_ASSIGN_OR_RETURN(std::vector<Run> runs, SqliteStore::ReadRuns(q));
    return FoldRuns(runs);
  }

  Status Store(const std::string& domain_id, const std::string& task_id,
               const StoredReadiness& s) override {
    SMS_PREPARE_(q, db_,
                 "UPDATE tasks SET readiness = ?, readiness_since = ?,"
                 " readiness_reasons = ?, readiness_stale_at = ?,"
                 " readiness_history = ? WHERE domain_id = ? AND id = ?");
    q.Bind(s.status).Bind(s.since).Bind(s.reasons).Bind(s.stale_at);
    q.Bind(s.history).Bind(domain_id).Bind(task_id);
    SMS_RETURN_IF_ERROR(q.Exec());
    if (sqlite3_changes(db_) == 0)
      return Fail(core::NotFound("task not found"));
    return Ok();
  }

 private:
  sqlite3* const db_;
};

Result<std::vector<std::string>> SqliteStore::UpdateReadinessOn(
    sqlite3* db, const std::vector<const Run*>& runs, const Task& before,
    std::optional<schedule::ReadinessHistory> stored) {
  ReadinessOn sql(db);
  return UpdateReadiness(sql, runs, before, std::move(stored));
}

Status SqliteStore::RefreshReadiness(const std::string& domain_id,
                                     const std::string& task_id) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_ASSIGN_OR_RETURN(std::optional<schedule::ReadinessHistory> history,
                       ReadReadinessHistoryOn(c.db, domain_id, task_id));
  ReadinessOn sql(c.db);
  SMS_RETURN_IF_ERROR(
      storage::RefreshReadiness(sql, domain_id, task_id, std::move(history)));
  return txn.Commit();
}

}  // namespace sms::storage::sqlite
