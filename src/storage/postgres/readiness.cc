// PostgresStore (store_impl.h): the cut-over verdict (issue 13.3), as
// sqlite/readiness.cc explains (a commit folds its runs into the task's
// stored history); evaluated inside the caller's transaction, where
// CommitRun holds the task's row lock, so two commits of one task fold one
// after the other. The SQL only: storage/readiness_core.cc decides.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/postgres/store_impl.h"
#include "storage/readiness_core.h"
#include "storage/rows.h"

namespace sms::storage::postgres {

// ReadinessSql on one connection, inside its transaction.
class PostgresStore::ReadinessOn final : public ReadinessSql {
 public:
  explicit ReadinessOn(Connection& c) : c_(c) {}

  // A group commit's tasks: their settings read in one statement here,
  // and their verdicts written in one statement by Flush() instead of one
  // each.
  Status ForTasks(const std::vector<std::string>& domains,
                  const std::vector<std::string>& ids) {
    Params p;
    p.Add(TextArray(domains)).Add(TextArray(ids));
    SMS_ASSIGN_OR_RETURN(
        Rows r, c_.Exec("SELECT t.domain_id, t.id, c.config_key,"
                        " c.config_value FROM task_configs c"
                        " JOIN tasks t ON t.id = c.task_id"
                        " WHERE (t.domain_id, t.id) IN"
                        " (SELECT * FROM unnest($1::text[], $2::text[]))",
                        p));
    for (size_t i = 0; i < ids.size(); ++i) settings_[{domains[i], ids[i]}];
    for (int i = 0; i < r.size(); ++i)
      settings_[{r.Text(i, 0), r.Text(i, 1)}][r.Text(i, 2)] = r.Text(i, 3);
    deferred_ = true;
    return Ok();
  }

  Status Flush() {
    if (stores_.empty()) return Ok();
    std::vector<std::string> status, reasons, history, domains, ids;
    std::vector<int64_t> since, stale_at, has_stale;
    for (const auto& [key, s] : stores_) {
      status.push_back(s.status);
      since.push_back(s.since);
      reasons.push_back(s.reasons);
      stale_at.push_back(s.stale_at.value_or(0));
      has_stale.push_back(s.stale_at ? 1 : 0);
      history.push_back(s.history);
      domains.push_back(key.first);
      ids.push_back(key.second);
    }
    Params p;
    p.Add(TextArray(status)).Add(IntArray(since)).Add(TextArray(reasons));
    p.Add(IntArray(stale_at)).Add(IntArray(has_stale)).Add(TextArray(history));
    p.Add(TextArray(domains)).Add(TextArray(ids));
    SMS_ASSIGN_OR_RETURN(
        Rows done,
        c_.Exec("UPDATE tasks t SET readiness = x.status,"
                " readiness_since = x.since, readiness_reasons = x.reasons,"
                " readiness_stale_at = CASE WHEN x.has_stale = 1"
                "  THEN x.stale_at END, readiness_history = x.history"
                " FROM unnest($1::text[], $2::bigint[], $3::text[],"
                " $4::bigint[], $5::bigint[], $6::text[], $7::text[],"
                " $8::text[]) AS x (status, since, reasons, stale_at,"
                " has_stale, history, domain_id, id)"
                " WHERE t.domain_id = x.domain_id AND t.id = x.id",
                p));
    if (done.affected() != static_cast<int64_t>(stores_.size()))
      return Fail(core::NotFound("task not found"));
    stores_.clear();
    return Ok();
  }

  Result<std::map<std::string, std::string>> Settings(
      const std::string& domain_id, const std::string& task_id) override {
    if (auto it = settings_.find({domain_id, task_id}); it != settings_.end())
      return it->second;
    Params p;
    p.Add(domain_id).Add(task_id);
    SMS_ASSIGN_OR_RETURN(
        Rows r,
        c_.Exec("SELECT c.config_key, c.config_value FROM task_configs c"
                " JOIN tasks t ON t.id = c.task_id WHERE t.domain_id = $1"
                " AND t.id = $2",
                p));
    std::map<std::string, std::string> cfg;
    for (int i = 0; i < r.size(); ++i) cfg[r.Text(i, 0)] = r.Text(i, 1);
    return cfg;
  }

  Result<schedule::Persistence> Persistence(
      const std::string& domain_id, const std::string& run_id) override {
    Params p;
    p.Add(domain_id).Add(run_id);
    SMS_ASSIGN_OR_RETURN(
        Rows f, c_.Exec("SELECT count(*), coalesce(min(r.started_time), 0)"
                        " FROM file_details f"
                        " JOIN runs r ON r.domain_id = f.domain_id"
                        " AND r.run_id = f.first_seen_run"
                        " WHERE f.domain_id = $1 AND f.run_id = $2"
                        " AND f.first_seen_run <> ''"
                        " AND f.first_seen_run <> f.run_id",
                        p));
    if (f.empty()) return schedule::Persistence{};
    return schedule::Persistence{.count = f.Int(0, 0),
                                 .oldest_first_seen_ms = f.Int(0, 1)};
  }

  Result<schedule::ReadinessHistory> FoldNewestRuns(
      const std::string& domain_id, const std::string& task_id) override {
    Params p;
    p.Add(domain_id).Add(task_id).Add(kReadinessRuns);
    static const std::string kRuns =
        rows::Sql({"SELECT ", rows::kRunColumns,
                   ", dirs FROM runs WHERE domain_id = $1"
                   " AND task_id = $2 ORDER BY seq DESC LIMIT $3"});
    SMS_ASSIGN_OR_RETURN(Rows r, c_.Exec(kRuns, p));
    SMS_ASSIGN_OR_RETURN(std::vector<Run> runs, RunsFromRows(r));
    return FoldRuns(runs);
  }

  Status Store(const std::string& domain_id, const std::string& task_id,
               const StoredReadiness& s) override {
    if (deferred_) {
      stores_[{domain_id, task_id}] = s;
      return Ok();
    }
    Params p;
    p.Add(s.status).Add(s.since).Add(s.reasons).Add(s.stale_at).Add(s.history);
    p.Add(domain_id).Add(task_id);
    SMS_ASSIGN_OR_RETURN(
        Rows done,
        c_.Exec("UPDATE tasks SET readiness = $1, readiness_since = $2,"
                " readiness_reasons = $3, readiness_stale_at = $4,"
                " readiness_history = $5 WHERE domain_id = $6 AND id = $7",
                p));
    if (done.affected() == 0) return Fail(core::NotFound("task not found"));
    return Ok();
  }

 private:
  using TaskKey = std::pair<std::string, std::string>;  // domain, task
  Connection& c_;
  std::map<TaskKey, std::map<std::string, std::string>> settings_;
  bool deferred_ = false;  // Store() waits for Flush()
  std::map<TaskKey, StoredReadiness> stores_;
};

Result<std::optional<schedule::ReadinessHistory>>
PostgresStore::ReadReadinessHistoryOn(Connection& c,
                                      const std::string& domain_id,
                                      const std::string& task_id) {
  Params p;
  p.Add(domain_id).Add(task_id);
  SMS_ASSIGN_OR_RETURN(Rows h, c.Exec("SELECT readiness_history FROM tasks"
                                      " WHERE domain_id = $1 AND id = $2",
                                      p));
  if (h.empty()) return Fail(core::NotFound("task not found"));
  return UsableHistory(h.Text(0, 0));
}

Result<std::vector<std::string>> PostgresStore::UpdateReadinessOn(
    Connection& c, const std::vector<const Run*>& runs, const Task& before,
    std::optional<schedule::ReadinessHistory> stored) {
  ReadinessOn sql(c);
  return UpdateReadiness(sql, runs, before, std::move(stored));
}

Result<std::vector<std::vector<std::string>>>
PostgresStore::UpdateReadinessOfTasksOn(Connection& c,
                                        std::vector<TaskRuns>& tasks) {
  std::vector<std::string> domains, ids;
  for (const TaskRuns& t : tasks) {
    domains.push_back(t.before->domain_id);
    ids.push_back(t.before->id);
  }
  ReadinessOn sql(c);
  SMS_RETURN_IF_ERROR(sql.ForTasks(domains, ids));
  std::vector<std::vector<std::string>> events;
  for (TaskRuns& t : tasks) {
    SMS_ASSIGN_OR_RETURN(
        events.emplace_back(),
        UpdateReadiness(sql, t.runs, *t.before, std::move(t.history)));
  }
  SMS_RETURN_IF_ERROR(sql.Flush());
  return events;
}

Status PostgresStore::RefreshReadiness(const std::string& domain_id,
                                       const std::string& task_id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  SMS_RETURN_IF_ERROR(GetTaskOn(*c, domain_id, task_id, /*lock=*/true));
  SMS_ASSIGN_OR_RETURN(std::optional<schedule::ReadinessHistory> history,
                       ReadReadinessHistoryOn(*c, domain_id, task_id));
  ReadinessOn sql(*c);
  SMS_RETURN_IF_ERROR(
      storage::RefreshReadiness(sql, domain_id, task_id, std::move(history)));
  return txn.Commit();
}

}  // namespace sms::storage::postgres
