// SqliteStore (store_impl.h): what changed between two runs (issue 13.2).
#include <string>
#include <utility>
#include <vector>

#include "storage/changes_sql.h"
#include "storage/rows.h"
#include "storage/sqlite/store_impl.h"

namespace sms::storage::sqlite {

Result<std::vector<ChangeRow>> SqliteStore::ListChanges(
    const std::string& domain_id, const ChangeQuery& cq) {
  Conn c(this);
  Txn txn(c.db, &write_mu_);  // both runs from one snapshot
  SMS_RETURN_IF_ERROR(txn.Begin(false));
  int64_t started[2] = {0, 0};
  const std::string* ids[2] = {&cq.from_run_id, &cq.to_run_id};
  for (int i = 0; i < 2; ++i) {
    SMS_PREPARE_(q, c.db,
                 "SELECT started_time FROM runs WHERE domain_id = ?"
                 " AND run_id = ?");
    q.Bind(domain_id).Bind(*ids[i]);
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Fail(core::NotFound("run not found: " + *ids[i]));
    started[i] = q.Int(0);
  }
  std::string until[3];  // the resolved arm's bound (ChangesBoundSql)
  auto bind = [&](Stmt& q, ChangeParam p) {
    switch (p) {
      case ChangeParam::kDomain:
        q.Bind(domain_id);
        break;
      case ChangeParam::kFromRun:
        q.Bind(cq.from_run_id);
        break;
      case ChangeParam::kToRun:
        q.Bind(cq.to_run_id);
        break;
      case ChangeParam::kFromStarted:
        q.Bind(started[0]);
        break;
      case ChangeParam::kToStarted:
        q.Bind(started[1]);
        break;
      case ChangeParam::kDir:
        q.Bind(*cq.dir_check);
        break;
      case ChangeParam::kAfterDir:
        q.Bind(*cq.after_dir);
        break;
      case ChangeParam::kAfterPath:
        q.Bind(cq.after_path);
        break;
      case ChangeParam::kAfterPathB64:
        q.Bind(cq.after_path_b64);
        break;
      case ChangeParam::kLimit:
        q.Bind(cq.limit);
        break;
      case ChangeParam::kUntilDir:
      case ChangeParam::kUntilPath:
      case ChangeParam::kUntilPathB64:
        q.Bind(until[static_cast<int>(p) -
                     static_cast<int>(ChangeParam::kUntilDir)]);
        break;
    }
  };
  bool bounded = false;
  if (!cq.change) {
    const ChangesStatement bound = ChangesBoundSql('?', cq);
    SMS_PREPARE_(q, c.db, bound.sql.c_str());
    for (ChangeParam p : bound.params) bind(q, p);
    SMS_ASSIGN_OR_RETURN(bounded, q.Step());
    for (int i = 0; bounded && i < 3; ++i) until[i] = q.Text(i);
  }
  const ChangesStatement st = ChangesSql('?', cq, bounded);
  SMS_PREPARE_(q, c.db, st.sql.c_str());
  for (ChangeParam p : st.params) bind(q, p);
  std::vector<ChangeRow> out;
  while (true) {
    SMS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    ChangeRow r;
    r.change = q.Text(0);
    r.file = rows::ReadDetail(q, 1);
    r.from_status = q.Text(8);
    r.first_seen_time = q.Int(9);
    out.push_back(std::move(r));
  }
  return out;
}

Result<bool> SqliteStore::DetailsPurged(const std::string& domain_id,
                                        const std::string& run_id) {
  Conn c(this);
  SMS_PREPARE_(q, c.db,
               "SELECT 1 FROM detail_purges p JOIN runs r"
               " ON r.domain_id = p.domain_id AND r.run_id = p.run_id"
               " WHERE p.domain_id = ? AND p.run_id = ?");
  q.Bind(domain_id).Bind(run_id);
  return q.Step();
}

}  // namespace sms::storage::sqlite
