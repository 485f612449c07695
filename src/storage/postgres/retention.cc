// PostgresStore (store_impl.h): retention of file-level details (issue
// 13.5). Deletion goes in bounded batches, each its own short transaction;
// it locks no task row, so uploads and commits go on beside it.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/postgres/store_impl.h"
#include "storage/retention_rules.h"

namespace sms::storage::postgres {

Result<std::vector<TaskRef>> PostgresStore::ListTasksWithDetails(
    const TaskRef& after, int limit) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(after.domain_id).Add(after.task_id).Add(limit);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT domain_id, task_id FROM runs"
                                       " WHERE (domain_id, task_id) > ($1, $2)"
                                       " GROUP BY domain_id, task_id"
                                       " ORDER BY domain_id, task_id LIMIT $3",
                                       p));
  std::vector<TaskRef> out;
  for (int i = 0; i < r.size(); ++i)
    out.push_back({r.Text(i, 0), r.Text(i, 1)});
  return out;
}

Result<int64_t> PostgresStore::PurgeDetails(const std::string& domain_id,
                                            const std::string& task_id,
                                            const RetentionPolicy& policy,
                                            int64_t now, int max_rows) {
  if (!policy.keep_runs && !policy.keep_ms) return int64_t{0};
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  std::vector<RunAge> runs;  // newest first
  {
    Params p;
    p.Add(domain_id).Add(task_id);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("SELECT r.run_id, r.committed_at,"
                        " p.run_id IS NOT NULL FROM runs r"
                        " LEFT JOIN detail_purges p"
                        " ON p.domain_id = r.domain_id AND p.run_id = r.run_id"
                        " WHERE r.domain_id = $1 AND r.task_id = $2"
                        " ORDER BY r.seq DESC",
                        p));
    for (int i = 0; i < r.size(); ++i)
      runs.push_back({r.Text(i, 0), r.Int(i, 1), r.Bool(i, 2)});
  }
  int64_t deleted = 0;
  for (const std::string& run_id : RunsToPurge(runs, policy, now)) {
    if (deleted >= max_rows) break;
    Params p;
    p.Add(domain_id).Add(run_id).Add(max_rows - deleted);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("DELETE FROM file_details WHERE ctid = ANY(ARRAY("
                        "SELECT ctid FROM file_details WHERE domain_id = $1"
                        " AND run_id = $2 LIMIT $3))",
                        p));
    deleted += r.affected();
    if (deleted >= max_rows) break;  // rows may remain: the next batch
    // The run's last rows are gone: its chunks, totals, and the mark.
    Params one;
    one.Add(domain_id).Add(run_id);
    SMS_RETURN_IF_ERROR(c->Exec(
        "DELETE FROM detail_chunks WHERE domain_id = $1 AND run_id = $2", one));
    SMS_RETURN_IF_ERROR(c->Exec(
        "DELETE FROM detail_counts WHERE domain_id = $1 AND run_id = $2", one));
    Params mark;
    mark.Add(domain_id).Add(run_id).Add(now);
    SMS_RETURN_IF_ERROR(
        c->Exec("INSERT INTO detail_purges (domain_id, run_id, purged_at)"
                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                mark));
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return deleted;
}

}  // namespace sms::storage::postgres

namespace sms::storage::postgres {

Result<std::optional<std::string>> PostgresStore::GetDomainSetting(
    const std::string& domain_id, const std::string& key) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(key);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT value FROM domain_settings"
                                       " WHERE domain_id = $1 AND key = $2",
                                       p));
  if (r.empty()) return std::optional<std::string>();
  return std::optional<std::string>(r.Text(0, 0));
}

Status PostgresStore::PutDomainSetting(const std::string& domain_id,
                                       const std::string& key,
                                       const std::string& value) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(key);
  if (value.empty()) {
    SMS_RETURN_IF_ERROR(c->Exec(
        "DELETE FROM domain_settings WHERE domain_id = $1 AND key = $2", p));
    return {};
  }
  p.Add(value);
  SMS_RETURN_IF_ERROR(
      c->Exec("INSERT INTO domain_settings (domain_id, key, value)"
              " VALUES ($1, $2, $3) ON CONFLICT (domain_id, key)"
              " DO UPDATE SET value = excluded.value",
              p));
  return {};
}

}  // namespace sms::storage::postgres
