// SqliteStore (store_impl.h): the agent's command queue.
#include <string>
#include <utility>
#include <vector>

#include "storage/commit_rules.h"
#include "storage/rows.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

Result<Command> SqliteStore::EnqueueCommand(const Command& cmd,
                                            TaskState expected_state,
                                            TaskState new_state) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_ASSIGN_OR_RETURN(Task task, GetTaskOn(c.db, cmd.domain_id, cmd.task_id));
  SMS_RETURN_IF_ERROR(
      SetTaskStateOn(c.db, cmd.domain_id, cmd.task_id, expected_state,
                     new_state, RunIdAfterEnqueue(cmd, task), cmd.created_at));
  static const std::string kSql = std::string("INSERT INTO commands (") +
                                  rows::kCommandInsertColumns +
                                  ") VALUES (?,?,?,?,?,?,?,?,?,?,?)";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  rows::CommandValues(cmd, [&q](const auto& v) { q.Bind(v); });
  SMS_RETURN_IF_ERROR(q.Exec());
  Command out = cmd;
  out.id = sqlite3_last_insert_rowid(c.db);
  SMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Status SqliteStore::RecordHeartbeats(const std::vector<Heartbeat>& beats) {
  if (beats.empty()) return Ok();
  Conn c(this);
  // Liveness only: a power cut may lose the newest beats, no fsync.
  UnsyncedCommits unsynced(c.db);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_PREPARE_(q, c.db,
               "UPDATE sources SET last_seen_at = ? WHERE domain_id = ?"
               " AND id = ? AND last_seen_at < ?");
  for (const Heartbeat& b : beats) {
    q.Reset();
    q.Bind(b.at).Bind(b.domain_id).Bind(b.source_id).Bind(b.at);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  return txn.Commit();
}

Result<std::optional<Command>> SqliteStore::NextCommand(
    const std::string& domain_id, const std::string& source_id, int64_t now) {
  Conn c(this);
  std::string sql = std::string("SELECT ") + rows::kCommandColumns +
                    " FROM commands WHERE domain_id = ? AND source_id = ?"
                    " AND state = 'pending' ORDER BY id LIMIT 1";
  // Most polls find nothing: a read, no write transaction.
  {
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(domain_id).Bind(source_id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<Command>();
  }
  // Something is pending: take the oldest in a write transaction (durable:
  // a lost hand-over would deliver the command twice).
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  std::optional<Command> out;
  {
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(domain_id).Bind(source_id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) out = rows::ReadCommand(q);
  }
  if (out) {
    SMS_PREPARE_(q, c.db,
                 "UPDATE commands SET state = 'delivered', updated_at = ?"
                 " WHERE id = ?");
    q.Bind(now).Bind(out->id);
    SMS_RETURN_IF_ERROR(q.Exec());
    out->state = CommandState::kDelivered;
    out->updated_at = now;
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<Command> SqliteStore::LatestTaskCommand(const std::string& domain_id,
                                               const std::string& task_id) {
  Conn c(this);
  std::string sql = std::string("SELECT ") + rows::kCommandColumns +
                    " FROM commands WHERE domain_id = ? AND task_id = ?"
                    " ORDER BY id DESC LIMIT 1";
  SMS_PREPARE_(q, c.db, sql.c_str());
  q.Bind(domain_id).Bind(task_id);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("no command for task"));
  return rows::ReadCommand(q);
}

Result<Command> SqliteStore::LatestDeliveredCommand(
    const std::string& domain_id, const std::string& source_id,
    CommandName name) {
  Conn c(this);
  std::string sql = std::string("SELECT ") + rows::kCommandColumns +
                    " FROM commands WHERE domain_id = ? AND source_id = ?"
                    " AND name = ? AND state = 'delivered'"
                    " ORDER BY id DESC LIMIT 1";
  SMS_PREPARE_(q, c.db, sql.c_str());
  q.Bind(domain_id).Bind(source_id).Bind(rows::Text(name));
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("no delivered command"));
  return rows::ReadCommand(q);
}

Result<Command> SqliteStore::DeliveredCommandOfRun(const std::string& domain_id,
                                                   const std::string& source_id,
                                                   const std::string& run_id) {
  Conn c(this);
  std::string sql = std::string("SELECT ") + rows::kCommandColumns +
                    " FROM commands WHERE domain_id = ? AND run_id = ?"
                    " AND source_id = ? AND state = 'delivered'"
                    " ORDER BY id DESC LIMIT 1";
  SMS_PREPARE_(q, c.db, sql.c_str());
  q.Bind(domain_id).Bind(run_id).Bind(source_id);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("no delivered command of the run"));
  return rows::ReadCommand(q);
}

// The single-statement writes below take write_mu_ too: outside it they
// met this process's other writers as SQLITE_BUSY, and waited in the busy
// handler's 250 us sleeps instead of on the mutex.
Status SqliteStore::CancelPendingCommand(const std::string& domain_id,
                                         int64_t command_id, int64_t now) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_PREPARE_(q, c.db,
               "UPDATE commands SET state = 'cancelled', updated_at = ?"
               " WHERE domain_id = ? AND id = ? AND state = 'pending'");
  q.Bind(now).Bind(domain_id).Bind(command_id);
  SMS_RETURN_IF_ERROR(q.Exec());
  if (sqlite3_changes(c.db) == 0)
    return Fail(core::FailedPrecondition("command is no longer pending"));
  return txn.Commit();
}

Status SqliteStore::FinishCommand(const std::string& domain_id,
                                  int64_t command_id, CommandState state,
                                  const std::string& result,
                                  const std::string& result_detail,
                                  int64_t now) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_PREPARE_(q, c.db,
               "UPDATE commands SET state = ?, result = ?, result_detail = ?,"
               " updated_at = ? WHERE domain_id = ? AND id = ?");
  q.Bind(rows::Text(state)).Bind(result).Bind(result_detail).Bind(now);
  q.Bind(domain_id).Bind(command_id);
  SMS_RETURN_IF_ERROR(q.Exec());
  if (sqlite3_changes(c.db) == 0)
    return Fail(core::NotFound("command not found"));
  return txn.Commit();
}

}  // namespace sms::storage::sqlite
