// SqliteStore (store_impl.h): sources, tasks and their settings.
#include <string>
#include <utility>
#include <vector>

#include "storage/readiness_rules.h"
#include "storage/rows.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

// --- sources ---
Result<Source> SqliteStore::UpsertSource(const Source& s) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  {
    static const std::string kSql =
        std::string("INSERT INTO sources (") + rows::kSourceStoredColumns +
        ") VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (domain_id, name, hostname) DO UPDATE SET"
        " ip = excluded.ip, os_type = excluded.os_type,"
        " os_version = excluded.os_version,"
        " agent_version = excluded.agent_version,"
        " last_seen_at = excluded.last_seen_at";
    SMS_PREPARE_(q, c.db, kSql.c_str());
    rows::SourceValues(s, [&q](const auto& v) { q.Bind(v); });
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  std::string sql = std::string("SELECT ") + rows::kSourceColumns +
                    " FROM sources WHERE domain_id = ? AND name = ?"
                    " AND hostname = ?";
  SMS_PREPARE_(q, c.db, sql.c_str());
  q.Bind(s.domain_id).Bind(s.name).Bind(s.hostname);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::Internal("source vanished after upsert"));
  Source out = rows::ReadSource(q);
  SMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<Source> SqliteStore::GetSource(const std::string& domain_id,
                                      const std::string& id) {
  Conn c(this);
  std::string sql = std::string("SELECT ") + rows::kSourceColumns +
                    " FROM sources WHERE domain_id = ? AND id = ?";
  SMS_PREPARE_(q, c.db, sql.c_str());
  q.Bind(domain_id).Bind(id);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("source not found"));
  return rows::ReadSource(q);
}

Result<std::string> SqliteStore::GetSourceOwner(const std::string& domain_id,
                                                const std::string& id) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "SELECT owner_user_id FROM sources WHERE domain_id = ? AND"
               " id = ?");
  q.Bind(domain_id).Bind(id);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("source not found"));
  return q.Text(0);
}

Result<Page<Source>> SqliteStore::ListSources(const std::string& domain_id,
                                              const SourceFilter& f) {
  Conn c(this);
  const char* where =
      " FROM sources WHERE domain_id = ?1 AND (?2 IS NULL OR name = ?2)";
  Page<Source> page;
  {
    std::string sql = std::string("SELECT count(*)") + where;
    SMS_PREPARE_(q, c.db, sql.c_str());
    q.Bind(domain_id);
    if (f.name)
      q.Bind(*f.name);
    else
      q.BindNull();
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    page.count = row ? q.Int(0) : 0;
  }
  std::string sql = std::string("SELECT ") + rows::kSourceColumns + where +
                    " ORDER BY created_at, id LIMIT ?3 OFFSET ?4";
  SMS_PREPARE_(q, c.db, sql.c_str());
  q.Bind(domain_id);
  if (f.name)
    q.Bind(*f.name);
  else
    q.BindNull();
  q.Bind(f.limit).Bind(f.offset);
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    page.items.push_back(rows::ReadSource(q));
  }
  return page;
}

// --- tasks ---
Status SqliteStore::CreateTask(const Task& t) {
  Conn c(this);
  std::string sql = std::string("INSERT INTO tasks (") + rows::kTaskColumns +
                    ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  SMS_PREPARE_(q, c.db, sql.c_str());
  rows::TaskValues(t, [&q](const auto& v) { q.Bind(v); });
  return q.Exec();
}

Result<Task> SqliteStore::GetTask(const std::string& domain_id,
                                  const std::string& id) {
  Conn c(this);
  return GetTaskOn(c.db, domain_id, id);
}

Result<std::string> SqliteStore::GetTaskSource(const std::string& domain_id,
                                               const std::string& id) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "SELECT source_id FROM tasks WHERE domain_id = ? AND id = ?");
  q.Bind(domain_id).Bind(id);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("task not found"));
  return q.Text(0);
}

Result<Page<Task>> SqliteStore::ListTasks(const std::string& domain_id,
                                          const TaskFilter& f) {
  Conn c(this);
  const char* where =
      " FROM tasks WHERE domain_id = ?1 AND (?2 IS NULL OR state = ?2)"
      " AND (?3 IS NULL OR name = ?3) AND (?4 IS NULL OR id = ?4)"
      " AND (?5 IS NULL OR source_id = ?5)";
  auto bind_filter = [&](Stmt& q) {
    q.Bind(domain_id);
    const std::optional<std::string> state =
        f.state ? std::optional(rows::Text(*f.state)) : std::nullopt;
    for (const auto* v : {&state, &f.name, &f.id, &f.source_id}) {
      if (*v)
        q.Bind(**v);
      else
        q.BindNull();
    }
  };
  Page<Task> page;
  {
    std::string sql = std::string("SELECT count(*)") + where;
    SMS_PREPARE_(q, c.db, sql.c_str());
    bind_filter(q);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    page.count = row ? q.Int(0) : 0;
  }
  std::string sql = std::string("SELECT ") + rows::kTaskColumns + where +
                    (f.order == TaskOrder::kReadiness
                         ? rows::TaskReadinessOrder("?8")
                         : std::string(" ORDER BY created_at DESC, id")) +
                    " LIMIT ?6 OFFSET ?7";
  SMS_PREPARE_(q, c.db, sql.c_str());
  bind_filter(q);
  q.Bind(f.limit).Bind(f.offset);
  if (f.order == TaskOrder::kReadiness) q.Bind(f.now);
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    page.items.push_back(rows::ReadTask(q));
  }
  return page;
}

Status SqliteStore::DeleteTask(const std::string& domain_id,
                               const std::string& id) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  // Children first; runs/detail chunks cascade to their own children.
  static const char* const kDeletes[] = {
      "DELETE FROM detail_counts WHERE domain_id = ?1 AND run_id IN"
      " (SELECT run_id FROM detail_chunks WHERE domain_id = ?1"
      " AND task_id = ?2)",
      "DELETE FROM file_details WHERE domain_id = ?1 AND run_id IN"
      " (SELECT run_id FROM detail_chunks WHERE domain_id = ?1"
      " AND task_id = ?2)",
      "DELETE FROM detail_chunks WHERE domain_id = ?1 AND task_id = ?2",
      "DELETE FROM detail_purges WHERE domain_id = ?1 AND run_id IN"
      " (SELECT run_id FROM runs WHERE domain_id = ?1 AND task_id = ?2)",
      "DELETE FROM runs WHERE domain_id = ?1 AND task_id = ?2",
      "DELETE FROM commands WHERE domain_id = ?1 AND task_id = ?2",
      "DELETE FROM task_configs WHERE task_id IN (SELECT id FROM tasks"
      " WHERE domain_id = ?1 AND id = ?2)",
  };
  for (const char* sql : kDeletes) {
    SMS_PREPARE_(q, c.db, sql);
    q.Bind(domain_id).Bind(id);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  SMS_PREPARE_(q, c.db, "DELETE FROM tasks WHERE domain_id = ? AND id = ?");
  q.Bind(domain_id).Bind(id);
  SMS_RETURN_IF_ERROR(q.Exec());
  if (sqlite3_changes(c.db) == 0) return Fail(core::NotFound("task not found"));
  return txn.Commit();
}

Status SqliteStore::UpdateTaskState(const std::string& domain_id,
                                    const std::string& id,
                                    TaskState expected_state,
                                    TaskState new_state,
                                    const std::string& current_run_id,
                                    int64_t now) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_RETURN_IF_ERROR(SetTaskStateOn(c.db, domain_id, id, expected_state,
                                     new_state, current_run_id, now));
  return txn.Commit();
}

Status SqliteStore::PutTaskConfigs(const std::string& domain_id,
                                   const std::string& task_id,
                                   const std::vector<ConfigEntry>& entries) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_RETURN_IF_ERROR(GetTaskOn(c.db, domain_id, task_id));
  for (const ConfigEntry& e : entries) {
    SMS_PREPARE_(q, c.db,
                 "INSERT INTO task_configs (task_id, config_key,"
                 " config_value) VALUES (?,?,?) ON CONFLICT (task_id,"
                 " config_key) DO UPDATE SET config_value ="
                 " excluded.config_value");
    q.Bind(task_id).Bind(e.key).Bind(e.value);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  return txn.Commit();
}

Result<std::vector<ConfigEntry>> SqliteStore::GetTaskConfigs(
    const std::string& domain_id, const std::string& task_id) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "SELECT c.config_key, c.config_value FROM task_configs c"
               " JOIN tasks t ON t.id = c.task_id WHERE t.domain_id = ?"
               " AND t.id = ? ORDER BY c.config_key");
  q.Bind(domain_id).Bind(task_id);
  std::vector<ConfigEntry> out;
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Text(0), q.Text(1)});
  }
  if (out.empty()) SMS_RETURN_IF_ERROR(GetTaskOn(c.db, domain_id, task_id));
  return out;
}

Result<Task> SqliteStore::GetTaskOn(sqlite3* db, const std::string& domain_id,
                                    const std::string& id) {
  std::string sql = std::string("SELECT ") + rows::kTaskColumns +
                    " FROM tasks WHERE domain_id = ? AND id = ?";
  SMS_PREPARE_(q, db, sql.c_str());
  q.Bind(domain_id).Bind(id);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("task not found"));
  return rows::ReadTask(q);
}

Result<TaskForCommit> SqliteStore::TaskForCommitOn(sqlite3* db,
                                                   const std::string& domain_id,
                                                   const std::string& id) {
  static const std::string kSql = std::string("SELECT ") + rows::kTaskColumns +
                                  ", readiness_history FROM tasks"
                                  " WHERE domain_id = ? AND id = ?";
  SMS_PREPARE_(q, db, kSql.c_str());
  q.Bind(domain_id).Bind(id);
  SMS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Fail(core::NotFound("task not found"));
  return TaskForCommit{
      .task = rows::ReadTask(q),
      .history = UsableHistory(q.Text(rows::kTaskColumnCount))};
}

Status SqliteStore::SetTaskStateOn(sqlite3* db, const std::string& domain_id,
                                   const std::string& id,
                                   TaskState expected_state,
                                   TaskState new_state,
                                   const std::string& current_run_id,
                                   int64_t now) {
  SMS_PREPARE_(q, db,
               "UPDATE tasks SET state = ?, current_run_id = ?,"
               " updated_at = ? WHERE domain_id = ? AND id = ?"
               " AND state = ?");
  q.Bind(rows::Text(new_state)).Bind(current_run_id).Bind(now);
  q.Bind(domain_id).Bind(id).Bind(rows::Text(expected_state));
  SMS_RETURN_IF_ERROR(q.Exec());
  if (sqlite3_changes(db) == 0) {
    SMS_RETURN_IF_ERROR(GetTaskOn(db, domain_id, id));
    return Fail(core::FailedPrecondition("task state changed"));
  }
  return Ok();
}

}  // namespace sms::storage::sqlite
