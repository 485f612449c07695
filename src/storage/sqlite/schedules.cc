// SqliteStore (store_impl.h): schedules (issue 13.1). One SQLite file has
// one writer, so a claim is a SELECT and an UPDATE in one write
// transaction; the lease still matters when the process dies mid-tick.
#include <optional>
#include <string>
#include <vector>

#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

Status SqliteStore::SetNextCheck(const std::string& domain_id,
                                 const std::string& task_id,
                                 std::optional<int64_t> next_check_at) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_PREPARE_(q, c.db,
               "UPDATE tasks SET next_check_at = ? WHERE domain_id = ?"
               " AND id = ?");
  q.Bind(next_check_at).Bind(domain_id).Bind(task_id);
  SMS_RETURN_IF_ERROR(q.Exec());
  if (sqlite3_changes(c.db) == 0) return Fail(core::NotFound("task not found"));
  return txn.Commit();
}

Result<std::vector<DueCheck>> SqliteStore::ClaimDueChecks(int64_t now,
                                                          int64_t lease_until,
                                                          int limit) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  std::vector<DueCheck> out;
  {
    SMS_PREPARE_(q, c.db,
                 "SELECT domain_id, id, next_check_at FROM tasks"
                 " WHERE next_check_at IS NOT NULL AND next_check_at <= ?"
                 " ORDER BY next_check_at, id LIMIT ?");
    q.Bind(now).Bind(limit);
    while (true) {
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      out.push_back(DueCheck{.domain_id = q.Text(0),
                             .task_id = q.Text(1),
                             .due_at = q.Int(2),
                             .lease_until = lease_until});
    }
  }
  if (out.empty()) return out;  // nothing written: the transaction ends
  for (const DueCheck& d : out) {
    SMS_PREPARE_(q, c.db,
                 "UPDATE tasks SET next_check_at = ? WHERE domain_id = ?"
                 " AND id = ?");
    q.Bind(lease_until).Bind(d.domain_id).Bind(d.task_id);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Status SqliteStore::FinishDueCheck(const DueCheck& claimed,
                                   std::optional<int64_t> next, bool skipped) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_PREPARE_(q, c.db,
               "UPDATE tasks SET next_check_at = ?,"
               " skipped_checks = skipped_checks + ? WHERE domain_id = ?"
               " AND id = ? AND next_check_at = ?");
  q.Bind(next).Bind(skipped ? 1 : 0).Bind(claimed.domain_id);
  q.Bind(claimed.task_id).Bind(claimed.lease_until);
  SMS_RETURN_IF_ERROR(q.Exec());
  if (sqlite3_changes(c.db) == 0)
    return Fail(core::FailedPrecondition(
        "the scheduled check's lease is no longer held"));
  return txn.Commit();
}

}  // namespace sms::storage::sqlite
