// PostgresStore (store_impl.h): runs, their directories and file details.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "storage/commit_rules.h"
#include "storage/dirs_json.h"
#include "storage/postgres/store_impl.h"
#include "storage/rows.h"
#include "storage/run_events.h"

namespace sms::storage::postgres {

// Group commit (storage/group_commit.h): the concurrent uploads of this
// replica share one transaction, so one WAL flush, one NOTIFY and one hold
// of each task's row lock carry the whole batch (a notifying commit holds
// PostgreSQL's notify lock through its flush: one per upload serialised
// every replica's uploads, even of different tasks). The batch is written
// folded (CommitFoldedOn: a few statements per batch and one readiness
// update per task, not about nine statements per run); only when a
// statement of it fails are its runs committed one by one, each in its own
// savepoint. At most 64 runs: each savepoint that writes is a
// subtransaction, and PostgreSQL caches 64 per transaction for other
// sessions' snapshots before they read pg_subtrans.
Result<CommitOutcome> PostgresStore::CommitRun(const Run& run) {
  PendingRun pending{.run = &run};
  group_commit_.Commit(pending, [this](const RunGroupCommit::Batch& batch) {
    CommitBatch(batch);
  });
  return std::move(pending.result);
}

void PostgresStore::CommitBatch(const RunGroupCommit::Batch& batch) {
  auto fail_all = [&batch](const core::Error& e) {
    for (PendingRun* p : batch) p->result = Fail(e);
  };
  auto c = Acquire();
  if (!c) return fail_all(c.error());
  // Task by task, in one order on every replica: two batches lock the same
  // tasks' rows in the same order, so they cannot deadlock.
  RunGroupCommit::Batch ordered = batch;
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const PendingRun* x, const PendingRun* y) {
                     return std::tie(x->run->domain_id, x->run->task_id) <
                            std::tie(y->run->domain_id, y->run->task_id);
                   });
  {
    // Every statement of the folded batch looks rows up by key from
    // arrays: generic plans (see BeginGenericPlans).
    Txn txn(**c);
    if (Status begun = txn.BeginGenericPlans(); !begun)
      return fail_all(begun.error());
    auto folded = CommitFoldedOn(**c, ordered);
    if (folded) {
      // Acknowledged only once the COMMIT (and its WAL flush) has returned.
      Status committed = txn.Commit();
      for (size_t i = 0; i < ordered.size(); ++i) {
        ordered[i]->result = std::move((*folded)[i]);
        if (!committed && ordered[i]->result)
          ordered[i]->result = Fail(committed.error());
      }
      return;
    }
  }  // a statement failed: rolled back, the runs go one by one
  Txn txn(**c);
  if (Status begun = txn.Begin(); !begun) return fail_all(begun.error());
  for (PendingRun* p : ordered) {
    if (Status sp = (*c)->Script("SAVEPOINT run", "savepoint"); !sp) {
      p->result = Fail(sp.error());
      continue;
    }
    p->result = CommitRunOn(**c, *p->run);
    if (!p->result)
      (void)(*c)->Script("ROLLBACK TO SAVEPOINT run", "rollback to savepoint");
    (void)(*c)->Script("RELEASE SAVEPOINT run", "release savepoint");
  }
  if (Status committed = txn.Commit(); !committed) {
    for (PendingRun* p : batch)
      if (p->result) p->result = Fail(committed.error());
  }
}

Result<std::optional<TaskState>> PostgresStore::EndCheckOn(Connection& c,
                                                           const Task& task,
                                                           const Run& run) {
  std::optional<TaskState> next = TaskStateAfterCommit(task, run);
  if (!next) return next;
  SMS_RETURN_IF_ERROR(SetTaskStateOn(c, run.domain_id, run.task_id, task.state,
                                     *next, run.run_id, run.committed_at));
  Params p;
  p.Add(run.committed_at).Add(run.domain_id).Add(run.run_id);
  SMS_RETURN_IF_ERROR(
      c.Exec("UPDATE commands SET state = 'done', updated_at = $1"
             " WHERE domain_id = $2 AND run_id = $3"
             " AND state IN ('pending', 'delivered')",
             p));
  return next;
}

// The runs, each with its directories in its own row (runs.dirs,
// storage/dirs_json.h), in one statement: the columns as arrays, unnested
// in order (so runs.seq follows `runs`' order).
Status PostgresStore::InsertRunsOn(Connection& c,
                                   const std::vector<const Run*>& runs) {
  std::vector<std::string> run_columns[rows::kRunColumnCount];
  std::vector<std::string> dirs;
  for (const Run* r : runs) {
    const Run& run = *r;
    int col = 0;
    rows::RunValues(run, [&](const auto& v) {
      if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>)
        run_columns[col++].push_back(v);
      else
        run_columns[col++].push_back(std::to_string(v));
    });
    dirs.push_back(EncodeDirs(run.dirs));
  }
  Params p;
  for (const auto& v : run_columns) p.Add(TextArray(v));
  p.Add(TextArray(dirs));
  static const std::string kSql = rows::Sql(
      {"INSERT INTO runs (", rows::kRunColumns,
       ", dirs) SELECT x.a, x.b, x.c, x.d::bigint, x.e::bigint, x.f, x.g,"
       " x.h, x.i, x.j, x.k::bigint, x.l, x.m, x.n::json FROM unnest("
       "$1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
       " $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],"
       " $11::text[], $12::text[], $13::text[], $14::text[]) WITH ORDINALITY"
       " AS x (a, b, c, d, e, f, g, h, i, j, k, l, m, n, ord) ORDER BY x.ord"});
  SMS_RETURN_IF_ERROR(c.Exec(kSql, p));
  return Ok();
}

Result<std::vector<Result<CommitOutcome>>> PostgresStore::CommitFoldedOn(
    Connection& c, const RunGroupCommit::Batch& ordered) {
  using TaskKey = std::pair<std::string, std::string>;  // domain, task
  const size_t n = ordered.size();
  std::vector<Result<CommitOutcome>> results(
      n, Result<CommitOutcome>(Fail(core::Internal("not committed"))));
  auto key = [&ordered](size_t i) {
    return TaskKey(ordered[i]->run->domain_id, ordered[i]->run->task_id);
  };

  // What the tenant has stored under each run id already (one statement):
  // a committed run, and whether another of its tasks staged details. Read
  // before the tasks are locked, so the lock is held for one statement
  // less (two replicas' batches of the same tasks wait for each other's
  // whole lock window: issue 14.3). A run committed between this read and
  // the insert below, by another replica, fails the insert on the unique
  // key: the batch is rolled back and its runs go one by one
  // (CommitRunOn, which reads it again under the lock), as for a run id of
  // another task.
  std::vector<std::optional<StoredUpload>> stored(n);
  std::vector<bool> staged_by_another(n, false);
  {
    std::vector<std::string> domains, run_ids, task_ids;
    for (PendingRun* p : ordered) {
      domains.push_back(p->run->domain_id);
      run_ids.push_back(p->run->run_id);
      task_ids.push_back(p->run->task_id);
    }
    Params p;
    p.Add(TextArray(domains)).Add(TextArray(run_ids)).Add(TextArray(task_ids));
    SMS_ASSIGN_OR_RETURN(
        Rows r,
        c.Exec("SELECT x.ord, r.domain_id, r.task_id, r.content_hash,"
               " EXISTS (SELECT 1 FROM detail_chunks d"
               "  WHERE d.domain_id = x.domain_id AND d.run_id = x.run_id"
               "  AND d.task_id <> x.task_id)"
               " FROM unnest($1::text[], $2::text[], $3::text[])"
               " WITH ORDINALITY AS x (domain_id, run_id, task_id, ord)"
               " LEFT JOIN runs r"
               " ON r.domain_id = x.domain_id AND r.run_id = x.run_id",
               p));
    for (int i = 0; i < r.size(); ++i) {
      const size_t at = static_cast<size_t>(r.Int(i, 0) - 1);
      if (at >= n) return Fail(core::Internal("run check: row out of range"));
      if (!r.IsNull(i, 1))
        stored[at] = StoredUpload{.domain_id = r.Text(i, 1),
                                  .task_id = r.Text(i, 2),
                                  .content_hash = r.Text(i, 3)};
      staged_by_another[at] = r.Bool(i, 4);
    }
  }

  // The batch's tasks, locked (FOR UPDATE) in one statement, in the order
  // CommitBatch sorted them (byte order: COLLATE "C"), with their readiness
  // history. `now`: the task as this batch's runs leave it.
  struct Locked {
    TaskForCommit before;
    Task now;
  };
  std::map<TaskKey, Locked> tasks;
  {
    std::vector<std::string> domains, ids;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0 && key(i) == key(i - 1)) continue;
      domains.push_back(ordered[i]->run->domain_id);
      ids.push_back(ordered[i]->run->task_id);
    }
    Params p;
    p.Add(TextArray(domains)).Add(TextArray(ids));
    static const std::string kSql = rows::Sql(
        {"SELECT ", rows::kTaskColumns,
         ", readiness_history FROM tasks WHERE (domain_id, id) IN"
         " (SELECT * FROM unnest($1::text[], $2::text[]))"
         " ORDER BY domain_id COLLATE \"C\", id COLLATE \"C\" FOR UPDATE"});
    SMS_ASSIGN_OR_RETURN(Rows r, c.Exec(kSql, p));
    for (int i = 0; i < r.size(); ++i) {
      Task task = rows::ReadTask(r.At(i));
      TaskKey k(task.domain_id, task.id);
      Locked locked{.before = {.task = task,
                               .history = UsableHistory(
                                   r.Text(i, rows::kTaskColumnCount))},
                    .now = task};
      tasks.emplace(std::move(k), std::move(locked));
    }
  }

  // The rules (commit_rules.h), run by run in order: a run refused writes
  // nothing; a run id repeated within the batch is a repeated commit of
  // the first.
  std::vector<size_t> accepted;
  {
    std::map<TaskKey, StoredUpload> in_batch;  // (domain, run id) -> upload
    for (size_t i = 0; i < n; ++i) {
      const Run& run = *ordered[i]->run;
      if (!tasks.contains(key(i))) {
        results[i] = Fail(core::NotFound("task not found"));
        continue;
      }
      if (stored[i]) {
        results[i] = RepeatedCommit(run, *stored[i]);
        continue;
      }
      const TaskKey id(run.domain_id, run.run_id);
      if (auto it = in_batch.find(id); it != in_batch.end()) {
        results[i] = RepeatedCommit(run, it->second);
        continue;
      }
      if (Status owner = CheckRunIdOwner(staged_by_another[i]); !owner) {
        results[i] = Fail(owner.error());
        continue;
      }
      in_batch.emplace(id, StoredUpload{.domain_id = run.domain_id,
                                        .task_id = run.task_id,
                                        .content_hash = run.content_hash});
      accepted.push_back(i);
    }
  }
  if (accepted.empty()) return results;

  // The accepted runs and all their directories in one statement. A run
  // id committed meanwhile for another task of the tenant (whose lock we
  // do not hold) fails it on the unique key: the caller then commits the
  // runs one by one, and that run gets kAlreadyExists.
  {
    std::vector<const Run*> runs;
    for (size_t i : accepted) runs.push_back(ordered[i]->run);
    SMS_RETURN_IF_ERROR(InsertRunsOn(c, runs));
  }

  // A run that ends its task's current check (rare: one per check).
  for (size_t i : accepted) {
    const Run& run = *ordered[i]->run;
    Task& task = tasks.at(key(i)).now;
    SMS_ASSIGN_OR_RETURN(std::optional<TaskState> next,
                         EndCheckOn(c, task, run));
    if (next) task.state = *next;
  }

  // The cut-over verdict, once per task: its runs folded in order, the
  // tasks' settings read and verdicts written in one statement each
  // (readiness.cc); then every run's webhook events, and each verdict
  // change's, in the outbox (webhooks.cc), all in this transaction.
  std::vector<TaskRuns> by_task;
  for (size_t a = 0; a < accepted.size();) {
    Locked& locked = tasks.at(key(accepted[a]));
    TaskRuns t{.before = &locked.before.task,
               .runs = {},
               .history = std::move(locked.before.history)};
    size_t b = a;
    while (b < accepted.size() && key(accepted[b]) == key(accepted[a]))
      t.runs.push_back(ordered[accepted[b++]]->run);
    by_task.push_back(std::move(t));
    a = b;
  }
  SMS_ASSIGN_OR_RETURN(std::vector<std::vector<std::string>> verdict_events,
                       UpdateReadinessOfTasksOn(c, by_task));
  std::vector<RunWithEvents> outbox;
  for (size_t t = 0; t < by_task.size(); ++t) {
    for (size_t k = 0; k < by_task[t].runs.size(); ++k) {
      const Run* run = by_task[t].runs[k];
      std::vector<std::string> events = RunEvents(*run);
      if (!verdict_events[t][k].empty())
        events.push_back(std::move(verdict_events[t][k]));
      outbox.push_back({run, std::move(events)});
    }
  }
  SMS_RETURN_IF_ERROR(EnqueueRunEventsOn(c, outbox));
  for (size_t i : accepted) results[i] = CommitOutcome::kCommitted;
  return results;
}

// The body of CommitRun, inside the caller's transaction.
Result<CommitOutcome> PostgresStore::CommitRunOn(Connection& c,
                                                 const Run& run) {
  // The task row lock serialises every commit and staging of this task,
  // across replicas: the checks below see what the last holder wrote. The
  // same read gives the verdict before and the readiness history.
  SMS_ASSIGN_OR_RETURN(TaskForCommit locked,
                       TaskForCommitOn(c, run.domain_id, run.task_id));
  {
    Params p;
    p.Add(run.run_id).Add(run.domain_id).Add(run.task_id);
    // One row: the tenant's run committed under this id (NULLs if none),
    // and whether the id was staged with details by another of its tasks.
    SMS_ASSIGN_OR_RETURN(
        Rows r,
        c.Exec("SELECT r.domain_id, r.task_id, r.content_hash,"
               " EXISTS (SELECT 1 FROM detail_chunks WHERE domain_id = $2"
               "  AND run_id = $1 AND task_id <> $3)"
               " FROM (SELECT 1) one LEFT JOIN runs r"
               " ON r.domain_id = $2 AND r.run_id = $1",
               p));
    if (!r.IsNull(0, 0))
      return RepeatedCommit(run, {.domain_id = r.Text(0, 0),
                                  .task_id = r.Text(0, 1),
                                  .content_hash = r.Text(0, 2)});
    SMS_RETURN_IF_ERROR(CheckRunIdOwner(r.Bool(0, 3)));
  }
  // The run and its directories. A run id committed meanwhile for another
  // task of the tenant (whose lock we do not hold) fails on the unique
  // key: kAlreadyExists, as above.
  SMS_RETURN_IF_ERROR(InsertRunsOn(c, {&run}));
  SMS_RETURN_IF_ERROR(EndCheckOn(c, locked.task, run));
  // The cut-over verdict (readiness.cc); the run's webhook events and a
  // verdict change's in the outbox, in the same transaction (webhooks.cc).
  SMS_ASSIGN_OR_RETURN(
      std::vector<std::string> verdict_event,
      UpdateReadinessOn(c, {&run}, locked.task, std::move(locked.history)));
  std::vector<std::string> events = RunEvents(run);
  if (!verdict_event.front().empty())
    events.push_back(std::move(verdict_event.front()));
  SMS_RETURN_IF_ERROR(EnqueueRunEventsOn(c, {{&run, std::move(events)}}));
  return CommitOutcome::kCommitted;
}

Result<std::vector<Run>> PostgresStore::ListRuns(const std::string& domain_id,
                                                 const std::string& task_id,
                                                 int limit) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(task_id).Add(limit);
  // Each run with its directories (its own row's dirs column).
  static const std::string kSql =
      rows::Sql({"SELECT ", rows::kRunColumns,
                 ", dirs FROM runs WHERE domain_id = $1"
                 " AND task_id = $2 ORDER BY seq DESC LIMIT $3"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  return RunsFromRows(r);
}

Result<std::vector<Run>> PostgresStore::ListRunsBefore(
    const std::string& domain_id, const std::string& task_id,
    const std::string& before_run_id, int limit) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(task_id).Add(before_run_id).Add(limit);
  static const std::string kSql = rows::Sql(
      {"SELECT ", rows::kRunColumns,
       ", dirs FROM runs WHERE domain_id = $1 AND task_id = $2"
       " AND ($3 = '' OR seq < (SELECT seq FROM runs WHERE domain_id = $1"
       "  AND run_id = $3)) ORDER BY seq DESC LIMIT $4"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  return RunsFromRows(r);
}

Result<Run> PostgresStore::GetRun(const std::string& domain_id,
                                  const std::string& run_id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(run_id);
  static const std::string kSql =
      rows::Sql({"SELECT ", rows::kRunColumns,
                 ", dirs FROM runs WHERE domain_id = $1 AND run_id = $2"});
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSql, p));
  SMS_ASSIGN_OR_RETURN(std::vector<Run> runs, RunsFromRows(r));
  if (runs.empty()) return Fail(core::NotFound("run not found"));
  return std::move(runs.front());
}

Result<StageOutcome> PostgresStore::StageDetails(const DetailChunk& chunk) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);
  SMS_RETURN_IF_ERROR(txn.Begin());
  SMS_RETURN_IF_ERROR(
      GetTaskOn(*c, chunk.domain_id, chunk.task_id, /*lock=*/true));
  {
    Params p;
    p.Add(chunk.domain_id).Add(chunk.run_id);
    SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT 1 FROM runs WHERE"
                                         " domain_id = $1 AND run_id = $2",
                                         p));
    SMS_RETURN_IF_ERROR(CheckRunNotCommitted(!r.empty()));
  }
  {
    Params p;
    p.Add(chunk.domain_id).Add(chunk.run_id).Add(chunk.seq);
    SMS_ASSIGN_OR_RETURN(Rows r,
                         c->Exec("SELECT domain_id, task_id, content_hash"
                                 " FROM detail_chunks WHERE domain_id = $1"
                                 " AND run_id = $2 AND seq = $3",
                                 p));
    if (!r.empty())
      return RepeatedStage(chunk, {.domain_id = r.Text(0, 0),
                                   .task_id = r.Text(0, 1),
                                   .content_hash = r.Text(0, 2)});
  }
  {
    Params p;
    p.Add(chunk.domain_id).Add(chunk.run_id).Add(chunk.task_id);
    SMS_ASSIGN_OR_RETURN(
        Rows r, c->Exec("SELECT 1 FROM detail_chunks WHERE domain_id = $1"
                        " AND run_id = $2 AND task_id <> $3 LIMIT 1",
                        p));
    SMS_RETURN_IF_ERROR(CheckRunIdOwner(!r.empty()));
  }
  {
    Params p;
    p.Add(chunk.run_id).Add(chunk.seq).Add(chunk.domain_id);
    p.Add(chunk.task_id).Add(chunk.content_hash).Add(chunk.created_at);
    SMS_RETURN_IF_ERROR(
        c->Exec("INSERT INTO detail_chunks (run_id, seq, domain_id,"
                " task_id, content_hash, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                p));
  }
  if (!chunk.files.empty()) {
    // The rows as arrays (one round trip for up to 10,000 rows), each
    // inserted once with how long it has differed (issue 13.2): the first
    // run of its streak, from the task's previous successful run of its
    // directory, looked up once per directory of the chunk. (Issue 13.3: a
    // COPY then a correlated UPDATE looked the run up again for every row
    // and wrote every row twice.)
    {
      constexpr int kColumns = 7;  // rows::kDetailColumns
      std::vector<std::string> columns[kColumns];
      for (auto& v : columns) v.reserve(chunk.files.size());
      for (const FileDetail& f : chunk.files) {
        int i = 0;
        rows::DetailValues(
            f, [&](const std::string& v) { columns[i++].push_back(v); });
      }
      Params p;
      p.Add(chunk.domain_id).Add(chunk.task_id).Add(chunk.run_id);
      p.Add(chunk.seq);
      for (const auto& v : columns) p.Add(TextArray(v));
      static const std::string kSql = rows::Sql(
          {"WITH s AS (SELECT * FROM unnest($5::text[], $6::text[],"
           " $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])"
           " WITH ORDINALITY AS x (dir_check, path, path_b64, status, reason,"
           " source_json, target_json, ord)),"
           " b AS (SELECT c.dir_check, (SELECT r.run_id FROM runs r"
           "  WHERE r.domain_id = $1 AND r.task_id = $2"
           "  AND r.check_result = 'success' AND EXISTS (SELECT 1"
           "   FROM json_array_elements(r.dirs) e"
           "   WHERE e ->> 0 = c.dir_check)"
           "  ORDER BY r.seq DESC LIMIT 1) AS run_id"
           "  FROM (SELECT DISTINCT dir_check FROM s) c)"
           " INSERT INTO file_details (domain_id, run_id, seq, idx, ",
           rows::kDetailColumns,
           ", first_seen_run) SELECT $1::text, $3::text, $4::bigint,"
           " s.ord - 1,"
           " s.dir_check, s.path, s.path_b64, s.status, s.reason,"
           " s.source_json, s.target_json, coalesce("
           " (SELECT CASE p.first_seen_run WHEN '' THEN p.run_id"
           "   ELSE p.first_seen_run END FROM file_details p"
           "  WHERE p.domain_id = $1 AND p.run_id = b.run_id"
           "  AND p.dir_check = s.dir_check"
           "  AND p.path = s.path AND p.path_b64 = s.path_b64 LIMIT 1),"
           " $3::text) FROM s JOIN b ON b.dir_check = s.dir_check"});
      SMS_RETURN_IF_ERROR(c->Exec(kSql, p));
    }
    // The chunk's rows counted into the run's totals (same transaction).
    Params p;
    p.Add(chunk.domain_id).Add(chunk.run_id).Add(chunk.seq);
    SMS_RETURN_IF_ERROR(
        c->Exec("INSERT INTO detail_counts"
                " (domain_id, run_id, dir_check, status, n)"
                " SELECT domain_id, run_id, dir_check, status, count(*)"
                " FROM file_details WHERE domain_id = $1 AND run_id = $2"
                " AND seq = $3 GROUP BY domain_id, run_id, dir_check, status"
                " ON CONFLICT (domain_id, run_id, dir_check, status) DO UPDATE"
                " SET n = detail_counts.n + excluded.n",
                p));
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return StageOutcome::kStaged;
}

Result<DetailPage> PostgresStore::ListDetails(const std::string& domain_id,
                                              const DetailQuery& dq) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);  // the page and its total from one snapshot
  SMS_RETURN_IF_ERROR(txn.BeginKeysetSnapshot());
  Params p;
  p.Add(domain_id).Add(dq.run_id).Add(dq.dir_check).Add(dq.status);
  DetailPage page;
  // The total from the per-(directory, status) counts kept at staging:
  // a few rows, however large the run. Beside it, the rows of the
  // directory and the rows of the status, each alone: with both filters
  // the page walks the index of the smaller.
  SMS_ASSIGN_OR_RETURN(
      Rows n,
      c->Exec("SELECT coalesce(sum(c.n) FILTER (WHERE"
              "  ($3::text IS NULL OR c.dir_check = $3::text)"
              "  AND ($4::text IS NULL OR c.status = $4::text)), 0),"
              " coalesce(sum(c.n) FILTER (WHERE c.dir_check = $3::text), 0),"
              " coalesce(sum(c.n) FILTER (WHERE c.status = $4::text), 0)"
              " FROM detail_counts c JOIN runs r"
              " ON r.domain_id = c.domain_id AND r.run_id = c.run_id"
              " WHERE c.domain_id = $1 AND c.run_id = $2",
              p));
  page.total = n.Int(0, 0);
  const bool walk_status = n.Int(0, 2) < n.Int(0, 1);
  // The page: one statement text per filter combination (so each plan
  // uses the index for its filter), values always bound. Keyset: a row
  // comparison in the index's order, so a late page is an index range
  // scan from the marker, like the first page. With both filters, the one
  // whose index is not walked is compared as an expression (`|| ''`),
  // which no index serves: left to choose, the planner took the status
  // index of 999,700 rows to find the 50 of the last directory (446 ms).
  static const std::string kSelect =
      "SELECT f.seq, f.idx, f.dir_check, f.path, f.path_b64, f.status,"
      " f.reason, f.source_json, f.target_json, coalesce((SELECT"
      " fr.started_time FROM runs fr WHERE fr.domain_id = f.domain_id"
      " AND fr.run_id = f.first_seen_run), r.started_time)"
      " FROM file_details f JOIN runs r"
      " ON r.domain_id = f.domain_id AND r.run_id = f.run_id"
      " WHERE f.domain_id = $1 AND f.run_id = $2";
  static const std::string kKeyset =
      " AND (f.seq, f.idx) > ($3::bigint, $4::bigint)"
      " ORDER BY f.seq, f.idx LIMIT $5";
  static const std::string kPage[5] = {
      kSelect + kKeyset,
      kSelect + " AND f.dir_check = $6" + kKeyset,
      kSelect + " AND f.status = $6" + kKeyset,
      kSelect + " AND f.dir_check = $6 AND f.status || '' = $7" + kKeyset,
      kSelect + " AND f.dir_check || '' = $6 AND f.status = $7" + kKeyset,
  };
  Params q;
  q.Add(domain_id).Add(dq.run_id).Add(dq.after_seq).Add(dq.after_idx);
  q.Add(dq.limit);
  if (dq.dir_check) q.Add(*dq.dir_check);
  if (dq.status) q.Add(*dq.status);
  int variant = (dq.dir_check ? 1 : 0) + (dq.status ? 2 : 0);
  if (variant == 3 && walk_status) variant = 4;
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kPage[variant], q));
  for (int i = 0; i < r.size(); ++i) {
    DetailRow row;
    row.seq = r.Int(i, 0);
    row.idx = r.Int(i, 1);
    row.file = rows::ReadDetail(r.At(i), 2);
    row.first_seen_time = r.Int(i, 9);
    page.rows.push_back(std::move(row));
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return page;
}

// Rows of (kRunColumns, dirs): one Run per row, with its directories.
Result<std::vector<Run>> PostgresStore::RunsFromRows(const Rows& r) {
  std::vector<Run> runs;
  runs.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    SMS_ASSIGN_OR_RETURN(Run run, rows::ReadRunWithDirs(r.At(i)));
    runs.push_back(std::move(run));
  }
  return runs;
}

}  // namespace sms::storage::postgres
