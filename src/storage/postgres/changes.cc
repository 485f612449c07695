// PostgresStore (store_impl.h): what changed between two runs (issue 13.2).
#include <string>
#include <utility>
#include <vector>

#include "storage/changes_sql.h"
#include "storage/postgres/store_impl.h"
#include "storage/rows.h"

namespace sms::storage::postgres {

Result<std::vector<ChangeRow>> PostgresStore::ListChanges(
    const std::string& domain_id, const ChangeQuery& cq) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Txn txn(*c);  // both runs and the page from one snapshot; the page
                // walks the index from the marker (BeginKeysetSnapshot)
  SMS_RETURN_IF_ERROR(txn.BeginKeysetSnapshot());
  int64_t started[2] = {0, 0};
  const std::string* ids[2] = {&cq.from_run_id, &cq.to_run_id};
  for (int i = 0; i < 2; ++i) {
    Params p;
    p.Add(domain_id).Add(*ids[i]);
    SMS_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT started_time FROM runs"
                                         " WHERE domain_id = $1"
                                         " AND run_id = $2",
                                         p));
    if (r.empty()) return Fail(core::NotFound("run not found: " + *ids[i]));
    started[i] = r.Int(0, 0);
  }
  std::string until[3];  // the resolved arm's bound (ChangesBoundSql)
  auto bind = [&](Params& p, ChangeParam which) {
    switch (which) {
      case ChangeParam::kDomain:
        p.Add(domain_id);
        break;
      case ChangeParam::kFromRun:
        p.Add(cq.from_run_id);
        break;
      case ChangeParam::kToRun:
        p.Add(cq.to_run_id);
        break;
      case ChangeParam::kFromStarted:
        p.Add(started[0]);
        break;
      case ChangeParam::kToStarted:
        p.Add(started[1]);
        break;
      case ChangeParam::kDir:
        p.Add(*cq.dir_check);
        break;
      case ChangeParam::kAfterDir:
        p.Add(*cq.after_dir);
        break;
      case ChangeParam::kAfterPath:
        p.Add(cq.after_path);
        break;
      case ChangeParam::kAfterPathB64:
        p.Add(cq.after_path_b64);
        break;
      case ChangeParam::kLimit:
        p.Add(cq.limit);
        break;
      case ChangeParam::kUntilDir:
      case ChangeParam::kUntilPath:
      case ChangeParam::kUntilPathB64:
        p.Add(until[static_cast<int>(which) -
                    static_cast<int>(ChangeParam::kUntilDir)]);
        break;
    }
  };
  bool bounded = false;
  if (!cq.change) {
    const ChangesStatement bound = ChangesBoundSql('$', cq);
    Params bp;
    for (ChangeParam which : bound.params) bind(bp, which);
    SMS_ASSIGN_OR_RETURN(Rows b, c->Exec(bound.sql, bp));
    bounded = !b.empty();
    for (int i = 0; bounded && i < 3; ++i) until[i] = b.Text(0, i);
  }
  const ChangesStatement st = ChangesSql('$', cq, bounded);
  Params p;
  for (ChangeParam which : st.params) bind(p, which);
  SMS_ASSIGN_OR_RETURN(Rows r, c->Exec(st.sql, p));
  std::vector<ChangeRow> out;
  for (int i = 0; i < r.size(); ++i) {
    ChangeRow row;
    row.change = r.Text(i, 0);
    row.file = rows::ReadDetail(r.At(i), 1);
    row.from_status = r.Text(i, 8);
    row.first_seen_time = r.Int(i, 9);
    out.push_back(std::move(row));
  }
  SMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<bool> PostgresStore::DetailsPurged(const std::string& domain_id,
                                          const std::string& run_id) {
  SMS_ASSIGN_OR_RETURN(Lease c, Acquire());
  Params p;
  p.Add(domain_id).Add(run_id);
  SMS_ASSIGN_OR_RETURN(Rows r,
                       c->Exec("SELECT 1 FROM detail_purges p JOIN runs r"
                               " ON r.domain_id = p.domain_id"
                               " AND r.run_id = p.run_id"
                               " WHERE p.domain_id = $1 AND p.run_id = $2",
                               p));
  return !r.empty();
}

}  // namespace sms::storage::postgres
