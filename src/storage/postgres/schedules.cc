// PostgresStore (store_impl.h): schedules (issue 13.1). Replicas claim due
// tasks with FOR UPDATE SKIP LOCKED in one statement that also moves each
// task's next_check_at to the claim's lease: a row another replica is
// claiming is skipped, and once that claim commits the row is no longer
// due, so each tick is claimed by one replica. A replica that dies
// mid-tick leaves the task to the others when the lease runs out.
#include <optional>
#include <string>
#include <vector>

#include "storage/postgres/store_impl.h"

namespace sms::storage::postgres {

Status PostgresStore::SetNextCheck(const std::string& domain_id,
                                   const std::string& task_id,
                                   std::optional<int64_t> next_check_at) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(next_check_at).Add(domain_id).Add(task_id);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("UPDATE tasks SET next_check_at = $1"
                                       " WHERE domain_id = $2 AND id = $3",
                                       p));
  if (r.affected() == 0) return Fail(core::NotFound("task not found"));
  return Ok();
}

Result<std::vector<DueCheck>> PostgresStore::ClaimDueChecks(int64_t now,
                                                            int64_t lease_until,
                                                            int limit) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(now).Add(limit).Add(lease_until);
  SMS_ASSIGN_OR_RETURN(
      Rows r,
      c->Exec("WITH due AS (SELECT id, next_check_at FROM tasks"
              " WHERE next_check_at <= $1 ORDER BY next_check_at, id"
              " LIMIT $2 FOR UPDATE SKIP LOCKED),"
              " claimed AS (UPDATE tasks t SET next_check_at = $3 FROM due"
              " WHERE t.id = due.id"
              " RETURNING t.domain_id, t.id, due.next_check_at AS due_at)"
              " SELECT domain_id, id, due_at FROM claimed ORDER BY due_at, id",
              p));
  std::vector<DueCheck> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(DueCheck{.domain_id = r.Text(i, 0),
                           .task_id = r.Text(i, 1),
                           .due_at = r.Int(i, 2),
                           .lease_until = lease_until});
  }
  return out;
}

Status PostgresStore::FinishDueCheck(const DueCheck& claimed,
                                     std::optional<int64_t> next,
                                     bool skipped) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(next).Add(static_cast<int64_t>(skipped ? 1 : 0));
  p.Add(claimed.domain_id).Add(claimed.task_id).Add(claimed.lease_until);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("UPDATE tasks SET next_check_at = $1,"
                                       " skipped_checks = skipped_checks + $2"
                                       " WHERE domain_id = $3 AND id = $4"
                                       " AND next_check_at = $5",
                                       p));
  if (r.affected() == 0)
    return Fail(core::FailedPrecondition(
        "the scheduled check's lease is no longer held"));
  return Ok();
}

}  // namespace sms::storage::postgres
