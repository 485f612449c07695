// PostgresStore (store_impl.h): the agent's command queue.
#include <string>
#include <utility>
#include <vector>

#include "storage/commit_rules.h"
#include "storage/postgres/store_impl.h"
#include "storage/rows.h"

namespace sms::storage::postgres {

Result<Command> PostgresStore::EnqueueCommand(const Command& cmd,
                                              TaskState expected_state,
                                              TaskState new_state) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  SMS_ASSIGN_OR_RETURN(Task task, GetTaskOn(*c, cmd.domain_id, cmd.task_id,
                                            /*lock=*/true));
  SMS_RETURN_IF_ERROR(
      SetTaskStateOn(*c, cmd.domain_id, cmd.task_id, expected_state, new_state,
                     RunIdAfterEnqueue(cmd, task), cmd.created_at));
  Params p;
  rows::CommandValues(cmd, [&p](const auto& v) { p.Add(v); });
  static const std::string kSql = rows::Sql(
      {"INSERT INTO commands (", rows::kCommandInsertColumns,
       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  Command out = cmd;
  out.id = r.Int(0, 0);
  SMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Status PostgresStore::RecordHeartbeats(const std::vector<Heartbeat>& beats) {
  if (beats.empty()) return Ok();
  std::vector<std::string> domains, sources;
  std::vector<int64_t> ats;
  for (const Heartbeat& b : beats) {
    domains.push_back(b.domain_id);
    sources.push_back(b.source_id);
    ats.push_back(b.at);
  }
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  // Liveness only: no WAL flush wait. Sorted by key, so two replicas
  // flushing overlapping beats lock the rows in one order. Each source by
  // key (a flush carries tens to thousands of beats: read whole, the
  // sources table was the most scanned of a fleet's run).
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.BeginUnsyncedByKey());
  Params p;
  p.Add(TextArray(domains)).Add(TextArray(sources)).Add(IntArray(ats));
  SMS_RETURN_IF_ERROR(
      c->Exec("UPDATE sources s SET last_seen_at = b.at FROM (SELECT d, id,"
              " max(at) AS at FROM unnest($1::text[], $2::text[],"
              " $3::bigint[]) AS x (d, id, at) GROUP BY d, id ORDER BY d, id)"
              " b WHERE s.domain_id = b.d AND s.id = b.id"
              " AND s.last_seen_at < b.at",
              p));
  return txn.Commit();
}

Result<std::optional<Command>> PostgresStore::NextCommand(
    const std::string& domain_id, const std::string& source_id, int64_t now) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  // One statement, autocommit: nothing pending writes nothing. SKIP LOCKED:
  // two replicas polling for the same agent never deliver one command
  // twice. A command handed over commits durably (the session's default;
  // a lost hand-over would deliver it twice).
  Params p;
  p.Add(now).Add(domain_id).Add(source_id);
  static const std::string kSql =
      rows::Sql({"UPDATE commands SET state = 'delivered', updated_at = $1"
                 " WHERE id = (SELECT id FROM commands WHERE domain_id = $2"
                 " AND source_id = $3 AND state = 'pending' ORDER BY id"
                 " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING ",
                 rows::kCommandColumns});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  std::optional<Command> out;
  if (!r.empty()) out = rows::ReadCommand(r.At(0));
  return out;
}

Result<Command> PostgresStore::LatestTaskCommand(const std::string& domain_id,
                                                 const std::string& task_id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(task_id);
  static const std::string kSql =
      rows::Sql({"SELECT ", rows::kCommandColumns,
                 " FROM commands WHERE domain_id = $1"
                 " AND task_id = $2 ORDER BY id DESC LIMIT 1"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  if (r.empty()) return Fail(core::NotFound("no command for task"));
  return rows::ReadCommand(r.At(0));
}

Result<Command> PostgresStore::LatestDeliveredCommand(
    const std::string& domain_id, const std::string& source_id,
    CommandName name) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(source_id).Add(rows::Text(name));
  static const std::string kSql =
      rows::Sql({"SELECT ", rows::kCommandColumns,
                 " FROM commands WHERE domain_id = $1"
                 " AND source_id = $2 AND name = $3"
                 " AND state = 'delivered' ORDER BY id DESC LIMIT 1"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  if (r.empty()) return Fail(core::NotFound("no delivered command"));
  return rows::ReadCommand(r.At(0));
}

Result<Command> PostgresStore::DeliveredCommandOfRun(
    const std::string& domain_id, const std::string& source_id,
    const std::string& run_id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(run_id).Add(source_id);
  static const std::string kSql =
      rows::Sql({"SELECT ", rows::kCommandColumns,
                 " FROM commands WHERE domain_id = $1"
                 " AND run_id = $2 AND source_id = $3"
                 " AND state = 'delivered' ORDER BY id DESC LIMIT 1"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  if (r.empty()) return Fail(core::NotFound("no delivered command of the run"));
  return rows::ReadCommand(r.At(0));
}

Status PostgresStore::CancelPendingCommand(const std::string& domain_id,
                                           int64_t command_id, int64_t now) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(now).Add(domain_id).Add(command_id);
  SMS_ASSIGN_OR_RETURN(
      Rows r, c->Exec("UPDATE commands SET state = 'cancelled',"
                      " updated_at = $1 WHERE domain_id = $2 AND id = $3"
                      " AND state = 'pending'",
                      p));
  if (r.affected() == 0)
    return Fail(core::FailedPrecondition("command is no longer pending"));
  return Ok();
}

Status PostgresStore::FinishCommand(const std::string& domain_id,
                                    int64_t command_id, CommandState state,
                                    const std::string& result,
                                    const std::string& result_detail,
                                    int64_t now) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(rows::Text(state)).Add(result).Add(result_detail).Add(now);
  p.Add(domain_id).Add(command_id);
  SMS_ASSIGN_OR_RETURN(Rows r,
                       c->Exec("UPDATE commands SET state = $1, result = $2,"
                               " result_detail = $3, updated_at = $4"
                               " WHERE domain_id = $5 AND id = $6",
                               p));
  if (r.affected() == 0) return Fail(core::NotFound("command not found"));
  return Ok();
}

}  // namespace sms::storage::postgres
