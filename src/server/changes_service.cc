#include "server/changes_service.h"

#include <optional>
#include <set>
#include <string>
#include <utility>

namespace sms::server {
namespace {

constexpr char kRunNotFound[] = "run not found";

bool SameScope(const storage::Run& a, const storage::Run& b) {
  std::set<std::string> x, y;
  for (const auto& d : a.dirs) x.insert(d.dir_check);
  for (const auto& d : b.dirs) y.insert(d.dir_check);
  return x == y;
}

// Whether `r`, a successful run committed before `to`, is what `to` is
// compared with by default. A re-check (scope inconsistent) checked the
// differences of the task's newest successful run when it was queued: that
// run, whatever its directories (TaskService::QueueCheck); since issue 12.5
// the re-check names it (base_run_id; runs stored before did not). A full
// check is
// compared with the previous full check of the same directories: a re-check
// lists only the files it checked again, so every other difference of `to`
// would look new.
bool IsBaseOf(const storage::Run& r, const storage::Run& to) {
  if (!to.base_run_id.empty()) return r.run_id == to.base_run_id;
  if (to.scope == "inconsistent") return true;
  return r.scope.empty() && SameScope(r, to);
}

ApiResult<storage::Run> LoadRun(storage::Store& store, const Identity& who,
                                const std::string& task_id,
                                const std::string& run_id) {
  auto run = store.GetRun(who.domain_id, run_id);
  if (!run) return StoreFail(run.error(), kRunNotFound);
  if (run->task_id != task_id) return ApiFail(ApiCode::kNotFound, kRunNotFound);
  return std::move(*run);
}

}  // namespace

ApiResult<ChangesPage> ChangesService::List(const Identity& who,
                                            const std::string& task_id,
                                            ChangesRequest req) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kResultRead));
  SMS_RETURN_IF_ERROR(tasks_.LoadTask(who, task_id));

  // The two runs: as given, or the default pair (IsBaseOf).
  std::optional<storage::Run> from, to;
  if (req.to_run_id) {
    SMS_ASSIGN_OR_RETURN(to, LoadRun(store_, who, task_id, *req.to_run_id));
  }
  if (req.from_run_id) {
    SMS_ASSIGN_OR_RETURN(from, LoadRun(store_, who, task_id, *req.from_run_id));
  }
  if (!from || !to) {
    auto runs = store_.ListRuns(who.domain_id, task_id, 1000);
    if (!runs) return StoreFail(runs.error(), kRunNotFound);
    bool past_to = false;
    for (storage::Run& r : *runs) {
      if (r.check_result != "success") continue;
      if (!to) {
        to = r;
        past_to = true;
        continue;
      }
      if (!past_to) {
        past_to = r.run_id == to->run_id;
        continue;
      }
      if (!from && IsBaseOf(r, *to)) {
        from = r;
        break;
      }
    }
    if (!to)
      return ApiFail(ApiCode::kNotFound, "the task has no successful run");
    if (!from)
      return ApiFail(ApiCode::kNotFound,
                     "no successful run of the same directories before run " +
                         to->run_id + "; give from=RUN_ID");
  }
  for (const storage::Run* r : {&*from, &*to}) {
    auto purged = store_.DetailsPurged(who.domain_id, r->run_id);
    if (!purged) return StoreFail(purged.error(), kRunNotFound);
    if (*purged)
      return ApiFail(ApiCode::kBadState,
                     "the file details of run " + r->run_id +
                         " were deleted by CONSISTENCY_RETENTION; its "
                         "per-directory counters remain");
  }
  storage::ChangeQuery& cq = req.query;
  cq.from_run_id = from->run_id;
  cq.to_run_id = to->run_id;
  const int limit = cq.limit;
  cq.limit = limit + 1;  // one more tells whether a next page exists
  auto rows = store_.ListChanges(who.domain_id, cq);
  if (!rows) return StoreFail(rows.error(), kRunNotFound);
  ChangesPage page{.task_id = task_id,
                   .from = std::move(*from),
                   .to = std::move(*to),
                   .dir_check = cq.dir_check,
                   .rows = std::move(*rows)};
  page.more = static_cast<int>(page.rows.size()) > limit;
  if (page.more) page.rows.resize(limit);
  return page;
}

}  // namespace sms::server
