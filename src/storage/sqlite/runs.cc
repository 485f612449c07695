// SqliteStore (store_impl.h): runs, their directories and file details;
// the group commit.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "storage/commit_rules.h"
#include "storage/dirs_json.h"
#include "storage/rows.h"
#include "storage/run_events.h"
#include "storage/sqlite/detail_page_sql.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

// Group commit (storage/group_commit.h): concurrent CommitRun calls share
// one transaction and so one fsync.
Result<CommitOutcome> SqliteStore::CommitRun(const Run& run) {
  PendingRun pending{.run = &run};
  group_commit_.Commit(pending, [this](const RunGroupCommit::Batch& batch) {
    CommitBatch(batch);
  });
  return std::move(pending.result);
}

// The body of CommitRun, inside the caller's transaction.
Result<CommitOutcome> SqliteStore::CommitRunOn(sqlite3* db, const Run& run) {
  // The task, the verdict before and the readiness history in one read.
  SMS_ASSIGN_OR_RETURN(TaskForCommit locked,
                       TaskForCommitOn(db, run.domain_id, run.task_id));
  {
    SMS_PREPARE_(q, db,
                 "SELECT domain_id, task_id, content_hash FROM runs"
                 " WHERE domain_id = ? AND run_id = ?");
    q.Bind(run.domain_id).Bind(run.run_id);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row)
      return RepeatedCommit(run, {.domain_id = q.Text(0),
                                  .task_id = q.Text(1),
                                  .content_hash = q.Text(2)});
  }
  {
    SMS_PREPARE_(q, db,
                 "SELECT 1 FROM detail_chunks WHERE domain_id = ? AND"
                 " run_id = ? AND task_id <> ? LIMIT 1");
    q.Bind(run.domain_id).Bind(run.run_id).Bind(run.task_id);
    SMS_ASSIGN_OR_RETURN(bool staged_by_another, q.Step());
    SMS_RETURN_IF_ERROR(CheckRunIdOwner(staged_by_another));
  }
  {
    // The run with its directories in its own row (storage/dirs_json.h).
    static const std::string kSql =
        std::string("INSERT INTO runs (") + rows::kRunColumns +
        ", dirs) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    SMS_PREPARE_(q, db, kSql.c_str());
    rows::RunValues(run, [&q](const auto& v) { q.Bind(v); });
    q.Bind(EncodeDirs(run.dirs));
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  if (std::optional<TaskState> next = TaskStateAfterCommit(locked.task, run)) {
    SMS_RETURN_IF_ERROR(SetTaskStateOn(db, run.domain_id, run.task_id,
                                       locked.task.state, *next, run.run_id,
                                       run.committed_at));
    SMS_PREPARE_(q, db,
                 "UPDATE commands SET state = 'done', updated_at = ?"
                 " WHERE domain_id = ? AND run_id = ? AND state IN"
                 " ('pending', 'delivered')");
    q.Bind(run.committed_at).Bind(run.domain_id).Bind(run.run_id);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  // The cut-over verdict (readiness.cc); the run's webhook events and a
  // verdict change's in the outbox, in the same transaction (webhooks.cc).
  SMS_ASSIGN_OR_RETURN(
      std::vector<std::string> verdict_event,
      UpdateReadinessOn(db, {&run}, locked.task, std::move(locked.history)));
  std::vector<std::string> events = RunEvents(run);
  if (!verdict_event.front().empty())
    events.push_back(std::move(verdict_event.front()));
  SMS_RETURN_IF_ERROR(EnqueueRunEventsOn(db, run, events));
  return CommitOutcome::kCommitted;
}

// Runs with their directories (each in its own row, storage/dirs_json.h):
// one statement, so one snapshot.
Result<std::vector<Run>> SqliteStore::ReadRuns(Stmt& q) {
  std::vector<Run> runs;
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    SMS_ASSIGN_OR_RETURN(Run run, rows::ReadRunWithDirs(q));
    runs.push_back(std::move(run));
  }
  return runs;
}

Result<std::vector<Run>> SqliteStore::ListRuns(const std::string& domain_id,
                                               const std::string& task_id,
                                               int limit) {
  Conn c(this);
  static const std::string kSql = std::string("SELECT ") + rows::kRunColumns +
                                  ", dirs FROM runs WHERE domain_id = ?"
                                  " AND task_id = ? ORDER BY seq DESC LIMIT ?";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(domain_id).Bind(task_id).Bind(limit);
  return ReadRuns(q);
}

Result<std::vector<Run>> SqliteStore::ListRunsBefore(
    const std::string& domain_id, const std::string& task_id,
    const std::string& before_run_id, int limit) {
  Conn c(this);
  static const std::string kSql =
      std::string("SELECT ") + rows::kRunColumns +
      ", dirs FROM runs WHERE domain_id = ?1 AND task_id = ?2 AND (?3 = ''"
      " OR seq < (SELECT seq FROM runs WHERE domain_id = ?1 AND run_id = ?3))"
      " ORDER BY seq DESC LIMIT ?4";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(domain_id).Bind(task_id).Bind(before_run_id).Bind(limit);
  return ReadRuns(q);
}

Result<Run> SqliteStore::GetRun(const std::string& domain_id,
                                const std::string& run_id) {
  Conn c(this);
  static const std::string kSql = std::string("SELECT ") + rows::kRunColumns +
                                  ", dirs FROM runs WHERE domain_id = ?"
                                  " AND run_id = ?";
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(domain_id).Bind(run_id);
  SMS_ASSIGN_OR_RETURN(std::vector<Run> runs, ReadRuns(q));
  if (runs.empty()) return Fail(core::NotFound("run not found"));
  return std::move(runs.front());
}

Result<StageOutcome> SqliteStore::StageDetails(const DetailChunk& chunk) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);
  SMS_RETURN_IF_ERROR(txn.Begin(true));
  SMS_RETURN_IF_ERROR(GetTaskOn(c.db, chunk.domain_id, chunk.task_id));
  {
    SMS_PREPARE_(q, c.db,
                 "SELECT 1 FROM runs WHERE domain_id = ? AND run_id = ?");
    q.Bind(chunk.domain_id).Bind(chunk.run_id);
    SMS_ASSIGN_OR_RETURN(bool committed, q.Step());
    SMS_RETURN_IF_ERROR(CheckRunNotCommitted(committed));
  }
  {
    SMS_PREPARE_(q, c.db,
                 "SELECT domain_id, task_id, content_hash FROM detail_chunks"
                 " WHERE domain_id = ? AND run_id = ? AND seq = ?");
    q.Bind(chunk.domain_id).Bind(chunk.run_id).Bind(chunk.seq);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row)
      return RepeatedStage(chunk, {.domain_id = q.Text(0),
                                   .task_id = q.Text(1),
                                   .content_hash = q.Text(2)});
  }
  {
    SMS_PREPARE_(q, c.db,
                 "SELECT 1 FROM detail_chunks WHERE domain_id = ? AND"
                 " run_id = ? AND task_id <> ? LIMIT 1");
    q.Bind(chunk.domain_id).Bind(chunk.run_id).Bind(chunk.task_id);
    SMS_ASSIGN_OR_RETURN(bool staged_by_another, q.Step());
    SMS_RETURN_IF_ERROR(CheckRunIdOwner(staged_by_another));
  }
  {
    SMS_PREPARE_(q, c.db,
                 "INSERT INTO detail_chunks (run_id, seq, domain_id,"
                 " task_id, content_hash, created_at) VALUES (?,?,?,?,?,?)");
    q.Bind(chunk.run_id).Bind(chunk.seq).Bind(chunk.domain_id);
    q.Bind(chunk.task_id).Bind(chunk.content_hash).Bind(chunk.created_at);
    SMS_RETURN_IF_ERROR(q.Exec());
  }
  // How long each row has differed (issue 13.2): the first run of its
  // streak, from the task's previous successful run of its directory (''
  // when none), looked up once per directory of the chunk; each row then
  // costs one probe of file_details_by_path as it is inserted. (Issue 13.3:
  // a correlated UPDATE afterwards looked the run up again for every row
  // and wrote every row twice.)
  std::map<std::string, std::string> previous_run;
  {
    SMS_PREPARE_(q, c.db,
                 "SELECT r.run_id FROM runs r"
                 " WHERE r.domain_id = ? AND r.task_id = ?"
                 " AND r.check_result = 'success' AND EXISTS (SELECT 1"
                 "  FROM json_each(r.dirs) e"
                 "  WHERE json_extract(e.value, '$[0]') = ?)"
                 " ORDER BY r.seq DESC LIMIT 1");
    for (const FileDetail& f : chunk.files) {
      if (previous_run.count(f.dir_check)) continue;
      q.Reset();
      q.Bind(chunk.domain_id).Bind(chunk.task_id).Bind(f.dir_check);
      SMS_ASSIGN_OR_RETURN(bool row, q.Step());
      previous_run[f.dir_check] = row ? q.Text(0) : std::string();
    }
  }
  {
    static const std::string kSql =
        std::string("INSERT INTO file_details (domain_id, run_id, seq, idx, ") +
        rows::kDetailColumns +
        ", first_seen_run) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
        " coalesce((SELECT CASE p.first_seen_run WHEN '' THEN p.run_id"
        "   ELSE p.first_seen_run END FROM file_details p"
        "  WHERE p.domain_id = ?1 AND p.run_id = ?12 AND p.dir_check = ?5"
        "  AND p.path = ?6 AND p.path_b64 = ?7), ?2))";
    SMS_PREPARE_(ins, c.db, kSql.c_str());
    int64_t idx = 0;
    for (const FileDetail& f : chunk.files) {
      ins.Reset();
      ins.Bind(chunk.domain_id).Bind(chunk.run_id).Bind(chunk.seq).Bind(idx++);
      rows::DetailValues(f, [&ins](const auto& v) { ins.Bind(v); });
      ins.Bind(previous_run[f.dir_check]);
      SMS_RETURN_IF_ERROR(ins.Exec());
    }
  }
  // The chunk's rows counted into the run's totals (same transaction),
  // from the chunk in hand. (Counted back from file_details by seq, SQLite
  // chose an index of (domain_id, run_id, ...) for the GROUP BY and read
  // every row of the run staged so far: 0.1-0.6 s for the 100th chunk of
  // 10,000.)
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  for (const FileDetail& f : chunk.files) ++counts[{f.dir_check, f.status}];
  SMS_PREPARE_(count, c.db,
               "INSERT INTO detail_counts"
               " (domain_id, run_id, dir_check, status, n)"
               " VALUES (?, ?, ?, ?, ?)"
               " ON CONFLICT (domain_id, run_id, dir_check, status) DO UPDATE"
               " SET n = detail_counts.n + excluded.n");
  for (const auto& [key, n] : counts) {
    count.Reset();
    count.Bind(chunk.domain_id).Bind(chunk.run_id).Bind(key.first);
    count.Bind(key.second).Bind(n);
    SMS_RETURN_IF_ERROR(count.Exec());
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return StageOutcome::kStaged;
}

Result<DetailPage> SqliteStore::ListDetails(const std::string& domain_id,
                                            const DetailQuery& dq) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);  // the page and its total from one snapshot
  SMS_RETURN_IF_ERROR(txn.Begin(false));
  auto bind_filter = [&](Stmt& q) {
    q.Bind(domain_id).Bind(dq.run_id);
    if (dq.dir_check)
      q.Bind(*dq.dir_check);
    else
      q.BindNull();
    if (dq.status)
      q.Bind(*dq.status);
    else
      q.BindNull();
  };
  DetailPage page;
  // With both filters, the page walks the smaller of the directory's rows
  // and the run's rows of that status (both counted below).
  int64_t in_dir = 0;
  int64_t with_status = 0;
  {
    // The totals from the per-(directory, status) counts kept at staging:
    // a few rows a directory, however large the run.
    SMS_PREPARE_(q, c.db,
                 "SELECT coalesce(sum(c.n) FILTER (WHERE"
                 "  (?3 IS NULL OR c.dir_check = ?3)"
                 "  AND (?4 IS NULL OR c.status = ?4)), 0),"
                 " coalesce(sum(c.n) FILTER (WHERE c.dir_check = ?3), 0),"
                 " coalesce(sum(c.n) FILTER (WHERE c.status = ?4), 0)"
                 " FROM detail_counts c JOIN runs r"
                 " ON r.domain_id = c.domain_id AND r.run_id = c.run_id"
                 " WHERE c.domain_id = ?1 AND c.run_id = ?2");
    bind_filter(q);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      page.total = q.Int(0);
      in_dir = q.Int(1);
      with_status = q.Int(2);
    }
  }
  DetailPageShape shape = DetailPageShape::kAll;
  if (dq.dir_check && dq.status)
    shape = in_dir <= with_status ? DetailPageShape::kDirAndStatusByDir
                                  : DetailPageShape::kDirAndStatusByStatus;
  else if (dq.dir_check)
    shape = DetailPageShape::kDir;
  else if (dq.status)
    shape = DetailPageShape::kStatus;
  SMS_PREPARE_(q, c.db, DetailPageSql(shape));
  bind_filter(q);
  q.Bind(dq.after_seq).Bind(dq.after_idx).Bind(dq.limit);
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    DetailRow r;
    r.seq = q.Int(0);
    r.idx = q.Int(1);
    r.file = rows::ReadDetail(q, 2);
    r.first_seen_time = q.Int(9);
    page.rows.push_back(std::move(r));
  }
  return page;
}

void SqliteStore::CommitBatch(const RunGroupCommit::Batch& batch) {
  WriterConn c(this);  // one leader at a time: the writer is ours
  Txn txn(c.db, &write_mu_);
  Status begun = txn.Begin(true);
  if (!begun) {
    for (PendingRun* p : batch) p->result = Fail(begun.error());
    return;
  }
  for (PendingRun* p : batch) {
    Status sp = ExecScript(c.db, "SAVEPOINT run", "savepoint");
    if (!sp) {
      p->result = Fail(sp.error());
      continue;
    }
    p->result = CommitRunOn(c.db, *p->run);
    if (!p->result)
      (void)ExecScript(c.db, "ROLLBACK TO run", "rollback to savepoint");
    (void)ExecScript(c.db, "RELEASE run", "release savepoint");
  }
  Status committed = txn.Commit();
  if (!committed) {
    for (PendingRun* p : batch)
      if (p->result) p->result = Fail(committed.error());
  }
}

}  // namespace sms::storage::sqlite
