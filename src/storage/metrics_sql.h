// The SQL of the metrics queries (Store::ListSourcePolls, ListTaskStreaks):
// parameters are written $1, $2 (PostgreSQL); SQLite takes them as ?1, ?2
// (ForSqlite).
//
// ListTaskStreaks reads each task's newest `window` runs (an index range
// scan of runs_by_task from the window's oldest seq, so its cost is tasks x
// window whatever the history). PostgreSQL counts the newest streak in SQL
// (kTaskStreaksSql, gaps and islands: the rows whose rank among all the
// task's runs equals their rank among the runs of the same verdict are
// exactly the newest streak). SQLite ran that statement slowly (each run's
// verdict evaluated twice, the rows sorted twice: 124-198 ms of CPU a scrape
// for 1,000 tasks x 20 runs, under load), so it reads the runs with their
// verdicts, oldest first (kTaskStreakRunsSql), and TaskStreakFold counts as
// they go by (63-82 ms); on PostgreSQL that way measured no faster.
// src/server/bench_metrics.py, docs/benchmarks.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "storage/store.h"

namespace sms::storage {

// $1: limit.
inline constexpr char kSourcePollsSql[] =
    "SELECT s.domain_id, s.id, s.name, s.last_seen_at, coalesce(t.n, 0),"
    " count(*) OVER ()"
    " FROM sources s LEFT JOIN (SELECT domain_id, source_id, count(*) AS n"
    " FROM tasks GROUP BY domain_id, source_id) t"
    " ON t.domain_id = s.domain_id AND t.source_id = s.id"
    " ORDER BY s.domain_id, s.id LIMIT $1";

// A run's verdict (alias r): failed (check_result is not success),
// inconsistent (a directory counted a file not equal), else consistent.
inline constexpr char kRunVerdictSql[] =
    "CASE WHEN r.check_result <> 'success' THEN 'failed'"
    " WHEN EXISTS (SELECT 1 FROM run_dirs d WHERE d.domain_id = r.domain_id"
    " AND d.run_id = r.run_id"
    " AND d.num_different_files + d.num_target_miss_files"
    " + d.num_target_more_files + d.num_changed_files + d.num_error_files"
    " + d.num_metadata_different_files + d.num_corrupt_files > 0)"
    " THEN 'inconsistent' ELSE 'consistent' END";

// $1: limit; $2: window - 1 (the offset of the window's oldest run).
inline const std::string kTaskStreaksSql =
    std::string(
        "WITH t AS ("
        "SELECT domain_id, id, name, total, coalesce((SELECT r.seq FROM runs r"
        " WHERE r.domain_id = p.domain_id AND r.task_id = p.id"
        " ORDER BY r.seq DESC LIMIT 1 OFFSET $2), 0) AS since"
        " FROM (SELECT k.domain_id, k.id, k.name, count(*) OVER () AS total"
        " FROM tasks k WHERE EXISTS (SELECT 1 FROM runs r"
        " WHERE r.domain_id = k.domain_id AND r.task_id = k.id)"
        " ORDER BY k.domain_id, k.id LIMIT $1) p),"
        " v AS ("
        "SELECT t.domain_id, t.id, t.name, t.total, r.seq, ") +
    kRunVerdictSql +
    " AS verdict"
    " FROM t JOIN runs r ON r.domain_id = t.domain_id AND r.task_id = t.id"
    " AND r.seq >= t.since),"
    " g AS ("
    "SELECT domain_id, id, name, total, verdict,"
    " row_number() OVER (PARTITION BY domain_id, id ORDER BY seq DESC) AS rn,"
    " row_number() OVER (PARTITION BY domain_id, id, verdict"
    " ORDER BY seq DESC) AS rv FROM v)"
    " SELECT domain_id, id, name, verdict, count(*), max(total) FROM g"
    " WHERE rn = rv GROUP BY domain_id, id, name, verdict"
    " ORDER BY domain_id, id";

// $1: limit; $2: window - 1 (the offset of the window's oldest run).
// SQLite's: one row per run of each task's window, in (domain_id, task id,
// seq) order: domain_id, task id, name and the count of all tasks with runs
// on the task's first (oldest) row only, NULL on the others (each task's
// text is read once), then the run's verdict. `since`, the seq of the
// window's oldest run, is worked out once per task (MATERIALIZED); the rows
// are sorted by the task's ordinal `n`, an integer, not by its ids.
inline const std::string kTaskStreakRunsSql =
    std::string(
        "WITH t AS MATERIALIZED ("
        "SELECT n, domain_id, id, name, total, coalesce("
        "(SELECT r.seq FROM runs r"
        " WHERE r.domain_id = p.domain_id AND r.task_id = p.id"
        " ORDER BY r.seq DESC LIMIT 1 OFFSET $2),"
        " (SELECT min(r.seq) FROM runs r"
        " WHERE r.domain_id = p.domain_id AND r.task_id = p.id)) AS since"
        " FROM (SELECT k.domain_id, k.id, k.name, count(*) OVER () AS total,"
        " row_number() OVER (ORDER BY k.domain_id, k.id) AS n"
        " FROM tasks k WHERE EXISTS (SELECT 1 FROM runs r"
        " WHERE r.domain_id = k.domain_id AND r.task_id = k.id)"
        " ORDER BY k.domain_id, k.id LIMIT $1) p)"
        " SELECT CASE WHEN r.seq = t.since THEN t.domain_id END,"
        " CASE WHEN r.seq = t.since THEN t.id END,"
        " CASE WHEN r.seq = t.since THEN t.name END,"
        " CASE WHEN r.seq = t.since THEN t.total END, ") +
    kRunVerdictSql +
    " FROM t JOIN runs r ON r.domain_id = t.domain_id AND r.task_id = t.id"
    " AND r.seq >= t.since"
    " ORDER BY t.n, r.seq";

// Counts each task's newest streak from the rows of kTaskStreakRunsSql.
// Thread-compatible.
class TaskStreakFold final {
 public:
  // A task's first row (its columns are not NULL): its runs follow.
  void StartTask(std::string domain_id, std::string task_id, std::string name,
                 int64_t total) {
    out_.items.push_back(
        {std::move(domain_id), std::move(task_id), std::move(name), "", 0});
    out_.count = total;
  }
  // The next run of the current task (older runs first). False when no task
  // was started: the rows are not in the query's order.
  [[nodiscard]] bool AddRun(std::string_view verdict) {
    if (out_.items.empty()) return false;
    TaskStreak& t = out_.items.back();
    if (t.verdict == verdict) {
      ++t.runs;
    } else {
      t.verdict = verdict;
      t.runs = 1;
    }
    return true;
  }
  Page<TaskStreak> Take() { return std::move(out_); }

 private:
  Page<TaskStreak> out_;
};

// `sql` with SQLite's numbered parameters (?1 for $1).
inline std::string ForSqlite(const std::string& sql) {
  std::string out(sql);
  for (char& c : out)
    if (c == '$') c = '?';
  return out;
}

}  // namespace sms::storage
