// SqliteStore (store_impl.h): retention of file-level details (issue 13.5).
// Deletion goes in bounded batches, each its own short write transaction,
// so uploads (which queue on the same writer) wait at most one batch.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/retention_rules.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

Result<std::vector<TaskRef>> SqliteStore::ListTasksWithDetails(
    const TaskRef& after, int limit) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "SELECT domain_id, task_id FROM runs"
               " WHERE (domain_id, task_id) > (?, ?)"
               " GROUP BY domain_id, task_id ORDER BY domain_id, task_id"
               " LIMIT ?");
  q.Bind(after.domain_id).Bind(after.task_id).Bind(limit);
  std::vector<TaskRef> out;
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Text(0), q.Text(1)});
  }
  return out;
}

Result<int64_t> SqliteStore::PurgeDetails(const std::string& domain_id,
                                          const std::string& task_id,
                                          const RetentionPolicy& policy,
                                          int64_t now, int max_rows) {
  if (!policy.keep_runs && !policy.keep_ms) return int64_t{0};
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  std::vector<RunAge> runs;  // newest first
  {
    SMS_PREPARE_(q, c.db,
                 "SELECT r.run_id, r.committed_at, p.run_id IS NOT NULL"
                 " FROM runs r LEFT JOIN detail_purges p"
                 " ON p.domain_id = r.domain_id AND p.run_id = r.run_id"
                 " WHERE r.domain_id = ?"
                 " AND r.task_id = ? ORDER BY r.seq DESC");
    q.Bind(domain_id).Bind(task_id);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      runs.push_back({q.Text(0), q.Int(1), q.Bool(2)});
    }
  }
  int64_t deleted = 0;
  for (const std::string& run_id : RunsToPurge(runs, policy, now)) {
    if (deleted >= max_rows) break;
    {
      SMS_PREPARE_(q, c.db,
                   "DELETE FROM file_details WHERE rowid IN (SELECT rowid"
                   " FROM file_details WHERE domain_id = ? AND run_id = ?"
                   " LIMIT ?)");
      q.Bind(domain_id).Bind(run_id).Bind(max_rows - deleted);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
    const int64_t n = sqlite3_changes(c.db);
    deleted += n;
    if (deleted >= max_rows) break;  // rows may remain: the next batch
    // The run's last rows are gone: its chunks, totals, and the mark.
    for (const char* sql :
         {"DELETE FROM detail_chunks WHERE domain_id = ? AND run_id = ?",
          "DELETE FROM detail_counts WHERE domain_id = ? AND run_id = ?",
          "INSERT INTO detail_purges (domain_id, run_id, purged_at)"
          " VALUES (?, ?, ?)"}) {
      SMS_PREPARE_(q, c.db, sql);
      q.Bind(domain_id).Bind(run_id);
      if (sql[0] == 'I') q.Bind(now);
      SMS_RETURN_IF_ERROR(q.Exec());
    }
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return deleted;
}

}  // namespace sms::storage::sqlite

namespace sms::storage::sqlite {

Result<std::optional<std::string>> SqliteStore::GetDomainSetting(
    const std::string& domain_id, const std::string& key) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "SELECT value FROM domain_settings"
               " WHERE domain_id = ? AND key = ?");
  q.Bind(domain_id).Bind(key);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(q.Text(0));
}

Status SqliteStore::PutDomainSetting(const std::string& domain_id,
                                     const std::string& key,
                                     const std::string& value) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  {
    SMS_PREPARE_(q, c.db,
                 value.empty()
                     ? "DELETE FROM domain_settings"
                       " WHERE domain_id = ? AND key = ?"
                     : "INSERT INTO domain_settings (domain_id, key, value)"
                       " VALUES (?, ?, ?) ON CONFLICT (domain_id, key)"
                       " DO UPDATE SET value = excluded.value");
    q.Bind(domain_id).Bind(key);
    if (!value.empty()) q.Bind(value);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  return txn.Commit();
}

}  // namespace sms::storage::sqlite
