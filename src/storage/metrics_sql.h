// The SQL of the metrics queries (Store::ListSourcePolls, ListTaskStreaks),
// one text for both backends: parameters are written $1, $2 (PostgreSQL);
// SQLite takes them as ?1, ?2 (ForSqlite).
//
// ListTaskStreaks is a gaps-and-islands query: over each task's newest
// `window` runs (an index range scan of runs_by_task from the window's
// oldest seq, so its cost is tasks x window whatever the history), the
// rows whose rank among all the task's runs equals their rank among the
// runs of the same verdict are exactly the newest streak.
#pragma once

#include <string>

namespace sms::storage {

// $1: limit.
inline constexpr char kSourcePollsSql[] =
    "SELECT s.domain_id, s.id, s.name, s.last_seen_at, coalesce(t.n, 0),"
    " count(*) OVER ()"
    " FROM sources s LEFT JOIN (SELECT domain_id, source_id, count(*) AS n"
    " FROM tasks GROUP BY domain_id, source_id) t"
    " ON t.domain_id = s.domain_id AND t.source_id = s.id"
    " ORDER BY s.domain_id, s.id LIMIT $1";

// $1: limit; $2: window - 1 (the offset of the window's oldest run).
inline constexpr char kTaskStreaksSql[] =
    "WITH t AS ("
    "SELECT domain_id, id, name, total, coalesce((SELECT r.seq FROM runs r"
    " WHERE r.domain_id = p.domain_id AND r.task_id = p.id"
    " ORDER BY r.seq DESC LIMIT 1 OFFSET $2), 0) AS since"
    " FROM (SELECT k.domain_id, k.id, k.name, count(*) OVER () AS total"
    " FROM tasks k WHERE EXISTS (SELECT 1 FROM runs r"
    " WHERE r.domain_id = k.domain_id AND r.task_id = k.id)"
    " ORDER BY k.domain_id, k.id LIMIT $1) p),"
    " v AS ("
    "SELECT t.domain_id, t.id, t.name, t.total, r.seq,"
    " CASE WHEN r.check_result <> 'success' THEN 'failed'"
    " WHEN EXISTS (SELECT 1 FROM run_dirs d WHERE d.domain_id = r.domain_id"
    " AND d.run_id = r.run_id"
    " AND d.num_different_files + d.num_target_miss_files"
    " + d.num_target_more_files + d.num_changed_files + d.num_error_files"
    " + d.num_metadata_different_files + d.num_corrupt_files > 0)"
    " THEN 'inconsistent' ELSE 'consistent' END AS verdict"
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

// `sql` with SQLite's numbered parameters (?1 for $1).
inline std::string ForSqlite(const char* sql) {
  std::string out(sql);
  for (char& c : out)
    if (c == '$') c = '?';
  return out;
}

}  // namespace sms::storage
