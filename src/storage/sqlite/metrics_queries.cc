// SqliteStore (store_impl.h): what /metrics reads at each scrape (issue
// 16.5). Each is one read-only statement on a pooled connection, outside
// write_mu_: in WAL mode it reads a snapshot while uploads commit beside it.
#include <optional>
#include <string>
#include <utility>

#include "storage/metrics_sql.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

Result<Page<SourcePoll>> SqliteStore::ListSourcePolls(int limit) {
  static const std::string kSql = ForSqlite(kSourcePollsSql);
  Conn c(this);
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(limit);
  Page<SourcePoll> out;
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.items.push_back({q.Text(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4)});
    out.count = q.Int(5);
  }
  return out;
}

Result<Page<TaskStreak>> SqliteStore::ListTaskStreaks(int limit, int window) {
  static const std::string kSql = ForSqlite(kTaskStreakRunsSql);
  Conn c(this);
  SMS_PREPARE_(q, c.db, kSql.c_str());
  q.Bind(limit).Bind(window - 1);
  TaskStreakFold fold;
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    if (std::optional<int64_t> total = q.OptInt(3)) {
      fold.StartTask(q.Text(0), q.Text(1), q.Text(2), *total);
    }
    if (!fold.AddRun(q.Text(4))) {
      return Fail(core::Internal("task streaks: a run before its task"));
    }
  }
  return fold.Take();
}

}  // namespace sms::storage::sqlite
