// PostgresStore (store_impl.h): sources, tasks and their settings.
#include <string>
#include <utility>
#include <vector>

#include "storage/postgres/store_impl.h"
#include "storage/readiness_rules.h"
#include "storage/rows.h"

namespace sms::storage::postgres {

// --- sources ---
Result<Source> PostgresStore::UpsertSource(const Source& s) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  rows::SourceValues(s, [&p](const auto& v) { p.Add(v); });
  // One statement: the upsert is atomic however many replicas register
  // the same agent at once.
  static const std::string kSql =
      rows::Sql({"INSERT INTO sources AS sources (", rows::kSourceStoredColumns,
                 ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                 " ON CONFLICT (domain_id, name, hostname) DO UPDATE SET"
                 " ip = excluded.ip, os_type = excluded.os_type,"
                 " os_version = excluded.os_version,"
                 " agent_version = excluded.agent_version,"
                 " last_seen_at = excluded.last_seen_at RETURNING ",
                 rows::kSourceColumns});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  if (r.empty()) return Fail(core::Internal("source vanished after upsert"));
  return rows::ReadSource(r.At(0));
}

Result<Source> PostgresStore::GetSource(const std::string& domain_id,
                                        const std::string& id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(id);
  static const std::string kSql =
      rows::Sql({"SELECT ", rows::kSourceColumns,
                 " FROM sources WHERE domain_id = $1 AND id = $2"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  if (r.empty()) return Fail(core::NotFound("source not found"));
  return rows::ReadSource(r.At(0));
}

Result<std::string> PostgresStore::GetSourceOwner(const std::string& domain_id,
                                                  const std::string& id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(id);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT owner_user_id FROM sources"
                                       " WHERE domain_id = $1 AND id = $2",
                                       p));
  if (r.empty()) return Fail(core::NotFound("source not found"));
  return r.Text(0, 0);
}

Result<Page<Source>> PostgresStore::ListSources(const std::string& domain_id,
                                                const SourceFilter& f) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.BeginSnapshot());
  static constexpr char kWhere[] =
      " FROM sources WHERE domain_id = $1 AND ($2::text IS NULL OR name = "
      "$2::text)";
  static const std::string kCount = rows::Sql({"SELECT count(*)", kWhere});
  static const std::string kPage =
      rows::Sql({"SELECT ", rows::kSourceColumns, kWhere,
                 " ORDER BY created_at, id LIMIT $3 OFFSET $4"});
  Params p;
  p.Add(domain_id).Add(f.name);
  Page<Source> page;
  SMS_ASSIGN_OR_RETURN(Rows n, c->Exec(kCount, p));
  page.count = n.Int(0, 0);
  p.Add(f.limit).Add(f.offset);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kPage, p));
  for (int i = 0; i < r.size(); ++i)
    page.items.push_back(rows::ReadSource(r.At(i)));
  SMS_RETURN_IF_ERROR(txn.Commit());
  return page;
}

// --- tasks ---
Status PostgresStore::CreateTask(const Task& t) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  rows::TaskValues(t, [&p](const auto& v) { p.Add(v); });
  static const std::string kSql = rows::Sql(
      {"INSERT INTO tasks (", rows::kTaskColumns,
       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
       " $14, $15, $16, $17, $18, $19, $20)"});
  return c->Exec(kSql, p).map([](Rows&&) {});
}

Result<Task> PostgresStore::GetTask(const std::string& domain_id,
                                    const std::string& id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  return GetTaskOn(*c, domain_id, id, /*lock=*/false);
}

Result<std::string> PostgresStore::GetTaskSource(const std::string& domain_id,
                                                 const std::string& id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(id);
  SMS_ASSIGN_OR_RETURN(
      Rows r,
      c->Exec("SELECT source_id FROM tasks WHERE domain_id = $1 AND id = $2",
              p));
  if (r.empty()) return Fail(core::NotFound("task not found"));
  return r.Text(0, 0);
}

Result<Page<Task>> PostgresStore::ListTasks(const std::string& domain_id,
                                            const TaskFilter& f) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.BeginSnapshot());
  static constexpr char kWhere[] =
      " FROM tasks WHERE domain_id = $1"
      " AND ($2::text IS NULL OR state = $2::text)"
      " AND ($3::text IS NULL OR name = $3::text)"
      " AND ($4::text IS NULL OR id = $4::text)"
      " AND ($5::text IS NULL OR source_id = $5::text)";
  static const std::string kCount = rows::Sql({"SELECT count(*)", kWhere});
  static const std::string kPage =
      rows::Sql({"SELECT ", rows::kTaskColumns, kWhere,
                 " ORDER BY created_at DESC, id LIMIT $6 OFFSET $7"});
  static const std::string kPageByReadiness = rows::Sql(
      {"SELECT ", rows::kTaskColumns, kWhere,
       rows::TaskReadinessOrder("$8::bigint"), " LIMIT $6 OFFSET $7"});
  Params p;
  std::optional<std::string> state;
  if (f.state) state = rows::Text(*f.state);
  p.Add(domain_id).Add(state).Add(f.name).Add(f.id).Add(f.source_id);
  Page<Task> page;
  SMS_ASSIGN_OR_RETURN(Rows n, c->Exec(kCount, p));
  page.count = n.Int(0, 0);
  p.Add(f.limit).Add(f.offset);
  const bool by_readiness = f.order == TaskOrder::kReadiness;
  if (by_readiness) p.Add(f.now);
  SMS_ASSIGN_OR_RETURN(Rows r,
                       c->Exec(by_readiness ? kPageByReadiness : kPage, p));
  for (int i = 0; i < r.size(); ++i)
    page.items.push_back(rows::ReadTask(r.At(i)));
  SMS_RETURN_IF_ERROR(txn.Commit());
  return page;
}

Status PostgresStore::DeleteTask(const std::string& domain_id,
                                 const std::string& id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  SMS_RETURN_IF_ERROR(GetTaskOn(*c, domain_id, id, /*lock=*/true));
  // Children first (the schema would cascade; explicit keeps the cost
  // visible), then the task.
  static const char* const kDeletes[] = {
      "DELETE FROM detail_counts WHERE domain_id = $1 AND run_id IN"
      " (SELECT run_id FROM detail_chunks WHERE domain_id = $1"
      " AND task_id = $2)",
      "DELETE FROM file_details WHERE domain_id = $1 AND run_id IN"
      " (SELECT run_id FROM detail_chunks WHERE domain_id = $1"
      " AND task_id = $2)",
      "DELETE FROM detail_chunks WHERE domain_id = $1 AND task_id = $2",
      "DELETE FROM detail_purges WHERE domain_id = $1 AND run_id IN"
      " (SELECT run_id FROM runs WHERE domain_id = $1 AND task_id = $2)",
      "DELETE FROM runs WHERE domain_id = $1 AND task_id = $2",
      "DELETE FROM commands WHERE domain_id = $1 AND task_id = $2",
      "DELETE FROM task_configs WHERE task_id IN (SELECT id FROM tasks"
      " WHERE domain_id = $1 AND id = $2)",
      "DELETE FROM tasks WHERE domain_id = $1 AND id = $2",
  };
  Params p;
  p.Add(domain_id).Add(id);
  for (const char* sql : kDeletes) SMS_RETURN_IF_ERROR(c->Exec(sql, p));
  return txn.Commit();
}

Status PostgresStore::UpdateTaskState(const std::string& domain_id,
                                      const std::string& id,
                                      TaskState expected_state,
                                      TaskState new_state,
                                      const std::string& current_run_id,
                                      int64_t now) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  SMS_RETURN_IF_ERROR(SetTaskStateOn(*c, domain_id, id, expected_state,
                                     new_state, current_run_id, now));
  return txn.Commit();
}

Status PostgresStore::PutTaskConfigs(const std::string& domain_id,
                                     const std::string& task_id,
                                     const std::vector<ConfigEntry>& entries) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  SMS_RETURN_IF_ERROR(GetTaskOn(*c, domain_id, task_id, /*lock=*/true));
  for (const ConfigEntry& e : entries) {
    Params p;
    p.Add(task_id).Add(e.key).Add(e.value);
    SMS_RETURN_IF_ERROR(
        c->Exec("INSERT INTO task_configs (task_id, config_key,"
                " config_value) VALUES ($1, $2, $3)"
                " ON CONFLICT (task_id, config_key) DO UPDATE SET"
                " config_value = excluded.config_value",
                p));
  }
  return txn.Commit();
}

Result<std::vector<ConfigEntry>> PostgresStore::GetTaskConfigs(
    const std::string& domain_id, const std::string& task_id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(task_id);
  // The task and its entries in one statement: no entries but a task is
  // an empty list, no task is NotFound.
  SMS_ASSIGN_OR_RETURN(
      Rows r, c->Exec("SELECT c.config_key, c.config_value FROM tasks t"
                      " LEFT JOIN task_configs c ON c.task_id = t.id"
                      " WHERE t.domain_id = $1 AND t.id = $2"
                      " ORDER BY c.config_key COLLATE \"C\"",
                      p));
  if (r.empty()) return Fail(core::NotFound("task not found"));
  std::vector<ConfigEntry> out;
  for (int i = 0; i < r.size(); ++i) {
    if (r.IsNull(i, 0)) continue;  // the task has no entries
    out.push_back({r.Text(i, 0), r.Text(i, 1)});
  }
  return out;
}

// The task of this domain; with `lock`, also locks its row until the end
// of the transaction (REQUIRES: inside Txn::Begin()).
Result<Task> PostgresStore::GetTaskOn(Connection& c,
                                      const std::string& domain_id,
                                      const std::string& id, bool lock) {
  static const std::string kPlain = std::string("SELECT ") +
                                    rows::kTaskColumns +
                                    " FROM tasks WHERE domain_id = $1"
                                    " AND id = $2";
  static const std::string kLocked = kPlain + " FOR UPDATE";
  Params p;
  p.Add(domain_id).Add(id);
  SMS_ASSIGN_OR_RETURN(Rows r, c.Exec((lock ? kLocked : kPlain).c_str(), p));
  if (r.empty()) return Fail(core::NotFound("task not found"));
  return rows::ReadTask(r.At(0));
}

Result<TaskForCommit> PostgresStore::TaskForCommitOn(
    Connection& c, const std::string& domain_id, const std::string& id) {
  static const std::string kSql = std::string("SELECT ") + rows::kTaskColumns +
                                  ", readiness_history FROM tasks"
                                  " WHERE domain_id = $1 AND id = $2"
                                  " FOR UPDATE";
  Params p;
  p.Add(domain_id).Add(id);
  SMS_ASSIGN_OR_RETURN(Rows r, c.Exec(kSql, p));
  if (r.empty()) return Fail(core::NotFound("task not found"));
  return TaskForCommit{
      .task = rows::ReadTask(r.At(0)),
      .history = UsableHistory(r.Text(0, rows::kTaskColumnCount))};
}

Status PostgresStore::SetTaskStateOn(
    Connection& c, const std::string& domain_id, const std::string& id,
    TaskState expected_state, TaskState new_state,
    const std::string& current_run_id, int64_t now) {
  Params p;
  p.Add(rows::Text(new_state)).Add(current_run_id).Add(now);
  p.Add(domain_id).Add(id).Add(rows::Text(expected_state));
  SMS_ASSIGN_OR_RETURN(
      Rows r, c.Exec("UPDATE tasks SET state = $1, current_run_id = $2,"
                     " updated_at = $3 WHERE domain_id = $4 AND id = $5"
                     " AND state = $6",
                     p));
  if (r.affected() == 0) {
    SMS_RETURN_IF_ERROR(GetTaskOn(c, domain_id, id, /*lock=*/false));
    return Fail(core::FailedPrecondition("task state changed"));
  }
  return Ok();
}

}  // namespace sms::storage::postgres
