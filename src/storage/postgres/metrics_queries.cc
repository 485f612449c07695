// PostgresStore (store_impl.h): what /metrics reads at each scrape (issue
// 16.5). Each is one read-only statement: it locks no row, so commits and
// uploads go on beside it.
#include <string>
#include <utility>

#include "storage/metrics_sql.h"
#include "storage/postgres/store_impl.h"

namespace sms::storage::postgres {

Result<Page<SourcePoll>> PostgresStore::ListSourcePolls(int limit) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(limit);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kSourcePollsSql, p));
  Page<SourcePoll> out;
  for (int i = 0; i < r.size(); ++i) {
    out.items.push_back(
        {r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3), r.Int(i, 4)});
    out.count = r.Int(i, 5);
  }
  return out;
}

Result<Page<TaskStreak>> PostgresStore::ListTaskStreaks(int limit, int window) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(limit).Add(window - 1);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(kTaskStreaksSql, p));
  Page<TaskStreak> out;
  for (int i = 0; i < r.size(); ++i) {
    out.items.push_back(
        {r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Int(i, 4)});
    out.count = r.Int(i, 5);
  }
  return out;
}

}  // namespace sms::storage::postgres
