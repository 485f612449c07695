// The statement that pages the changes between two runs (Store::ListChanges),
// written once for both dialects. Two arms, each an index range scan of
// file_details_by_path (domain_id, run_id, dir_check, path, path_b64) from
// the marker on, each cut at the page's size in that order, then merged:
//   the `to` run's rows, left-joined to the `from` run's (new | persisting);
//   the `from` run's rows absent from `to` in a directory `to` checked
//   (resolved).
// The cut in each arm keeps PostgreSQL from reading the whole of an arm to
// sort the union when its statistics are stale (after a big upload it
// planned an Append and a sort: 10 s a page of a million-file run).
// Only the arms and filters a query needs are in the text (so each plan
// uses the index), and every value is bound.
#pragma once

#include <string>
#include <vector>

#include "storage/store.h"

namespace sms::storage {

// The parameters of ChangesSql, in the order they are numbered.
enum class ChangeParam {
  kDomain,
  kFromRun,
  kToRun,
  kFromStarted,
  kToStarted,
  kDir,
  kAfterDir,
  kAfterPath,
  kAfterPathB64,
  kLimit,
  // The key of the `limit`-th `to` row after the marker (ChangesBoundSql).
  kUntilDir,
  kUntilPath,
  kUntilPathB64
};

struct ChangesStatement {
  std::string sql;
  std::vector<ChangeParam> params;  // $1/?1 is params[0], ...
};

namespace changes_sql_detail {

// A numbered placeholder per parameter, in order of first use.
inline std::string Param(ChangesStatement& out, char placeholder,
                         ChangeParam which) {
  const bool pg = placeholder == '$';
  for (size_t i = 0; i < out.params.size(); ++i)
    if (out.params[i] == which) return placeholder + std::to_string(i + 1);
  out.params.push_back(which);
  std::string ph = placeholder + std::to_string(out.params.size());
  if (pg && (which == ChangeParam::kFromStarted ||
             which == ChangeParam::kToStarted || which == ChangeParam::kLimit))
    ph += "::bigint";
  return ph;
}

}  // namespace changes_sql_detail

// Every change (no `change` filter) merges the `to` arm with the resolved
// arm, and the resolved arm skips the `from` rows that `to` lists too: on
// its own it would scan every persisting row after the marker for each
// page (a million persisting files paged 1,000 at a time: a second a page
// on SQLite). A page cannot reach past the `limit`-th `to` row after the
// marker, so its key bounds the resolved arm's index range. This statement
// finds that key (no row: `to` has fewer, no bound). Columns: dir_check,
// path, path_b64.
inline ChangesStatement ChangesBoundSql(char placeholder,
                                        const ChangeQuery& q) {
  ChangesStatement out;
  auto p = [&](ChangeParam which) {
    return changes_sql_detail::Param(out, placeholder, which);
  };
  out.sql =
      "SELECT t.dir_check, t.path, t.path_b64 FROM file_details t"
      " WHERE t.domain_id = " +
      p(ChangeParam::kDomain) + " AND t.run_id = " + p(ChangeParam::kToRun);
  if (q.dir_check) out.sql += " AND t.dir_check = " + p(ChangeParam::kDir);
  if (q.after_dir)
    out.sql += " AND (t.dir_check, t.path, t.path_b64) > (" +
               p(ChangeParam::kAfterDir) + ", " + p(ChangeParam::kAfterPath) +
               ", " + p(ChangeParam::kAfterPathB64) + ")";
  out.sql +=
      " ORDER BY 1, 2, 3 LIMIT 1 OFFSET " + p(ChangeParam::kLimit) + " - 1";
  return out;
}

// `placeholder`: '?' (SQLite, ?N) or '$' (PostgreSQL, $N, with casts).
// `bounded`: the key ChangesBoundSql found bounds the resolved arm (bound
// as kUntil*; only for a query without a `change` filter).
// Columns: change, dir_check, path, path_b64, status, reason, source_json,
// target_json, from_status, first_seen_time.
inline ChangesStatement ChangesSql(char placeholder, const ChangeQuery& q,
                                   bool bounded = false) {
  ChangesStatement out;
  auto p = [&](ChangeParam which) {
    return changes_sql_detail::Param(out, placeholder, which);
  };
  // The filter of one arm's rows, alias `a`.
  auto range = [&](const char* a) {
    std::string s;
    std::string x(a);
    if (q.dir_check) s += " AND " + x + ".dir_check = " + p(ChangeParam::kDir);
    if (q.after_dir)
      s += " AND (" + x + ".dir_check, " + x + ".path, " + x +
           ".path_b64) > (" + p(ChangeParam::kAfterDir) + ", " +
           p(ChangeParam::kAfterPath) + ", " + p(ChangeParam::kAfterPathB64) +
           ")";
    return s;
  };
  const bool want_new = !q.change || *q.change == "new";
  const bool want_persisting = !q.change || *q.change == "persisting";
  const bool want_resolved = !q.change || *q.change == "resolved";
  std::vector<std::string> arms;
  if (want_new || want_persisting) {
    std::string a =
        "SELECT CASE WHEN p.path IS NULL THEN 'new' ELSE 'persisting' END,"
        " t.dir_check, t.path, t.path_b64, t.status, t.reason,"
        " t.source_json, t.target_json, coalesce(p.status, ''),"
        " coalesce((SELECT fr.started_time FROM runs fr"
        "  WHERE fr.domain_id = t.domain_id"
        "  AND fr.run_id = t.first_seen_run), " +
        p(ChangeParam::kToStarted) +
        ") FROM file_details t LEFT JOIN file_details p ON p.domain_id = " +
        p(ChangeParam::kDomain) +
        " AND p.run_id = " + p(ChangeParam::kFromRun) +
        " AND p.dir_check = t.dir_check AND p.path = t.path"
        " AND p.path_b64 = t.path_b64 WHERE t.domain_id = " +
        p(ChangeParam::kDomain) + " AND t.run_id = " + p(ChangeParam::kToRun) +
        range("t");
    if (!want_persisting) a += " AND p.path IS NULL";
    if (!want_new) a += " AND p.path IS NOT NULL";
    arms.push_back(std::move(a));
  }
  if (want_resolved) {
    std::string b =
        "SELECT 'resolved', o.dir_check, o.path, o.path_b64, 'same',"
        " '', o.source_json, o.target_json, o.status,"
        " coalesce((SELECT fr.started_time FROM runs fr"
        "  WHERE fr.domain_id = o.domain_id"
        "  AND fr.run_id = o.first_seen_run), " +
        p(ChangeParam::kFromStarted) +
        ") FROM file_details o WHERE o.domain_id = " + p(ChangeParam::kDomain) +
        " AND o.run_id = " + p(ChangeParam::kFromRun) + range("o");
    if (bounded && !q.change)
      b += " AND (o.dir_check, o.path, o.path_b64) <= (" +
           p(ChangeParam::kUntilDir) + ", " + p(ChangeParam::kUntilPath) +
           ", " + p(ChangeParam::kUntilPathB64) + ")";
    // The directories `to` checked, expanded once from its row (the view
    // run_dirs, migration 0019), not once per row of `from`.
    b += " AND o.dir_check IN (SELECT d.dir_check FROM run_dirs d"
         " WHERE d.domain_id = " +
         p(ChangeParam::kDomain) + " AND d.run_id = " + p(ChangeParam::kToRun) +
         ")"
         " AND NOT EXISTS (SELECT 1 FROM file_details n WHERE n.domain_id ="
         " o.domain_id AND n.run_id = " +
         p(ChangeParam::kToRun) +
         " AND n.dir_check = o.dir_check AND n.path = o.path"
         " AND n.path_b64 = o.path_b64)";
    arms.push_back(std::move(b));
  }
  for (size_t i = 0; i < arms.size(); ++i) {
    if (i > 0) out.sql += " UNION ALL ";
    out.sql += "SELECT * FROM (" + arms[i] + " ORDER BY 2, 3, 4 LIMIT " +
               p(ChangeParam::kLimit) + ") arm" + std::to_string(i);
  }
  out.sql += " ORDER BY 2, 3, 4 LIMIT " + p(ChangeParam::kLimit);
  return out;
}

}  // namespace sms::storage
