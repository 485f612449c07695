#include "server/changes_service.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "auth/crypto.h"

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
// run, whatever its directories (TaskService::QueueCheck). A full check is
// compared with the previous full check of the same directories: a re-check
// lists only the files it checked again, so every other difference of `to`
// would look new.
bool IsBaseOf(const storage::Run& r, const storage::Run& to) {
  if (to.scope == "inconsistent") return true;
  return r.scope.empty() && SameScope(r, to);
}

// The counters of one directory in both runs.
json::object DirChange(const std::string& dir, const storage::DirResult* from,
                       const storage::DirResult* to) {
  json::object o{{"dir_check", dir},
                 {"in_from", from != nullptr},
                 {"in_to", to != nullptr}};
  auto put = [&](const char* name, int64_t storage::DirResult::*field) {
    const int64_t a = from ? from->*field : 0;
    const int64_t b = to ? to->*field : 0;
    o[name] = json::object{{"from", a}, {"to", b}, {"change", b - a}};
  };
  put("num_total_files", &storage::DirResult::num_total_files);
  put("num_different_files", &storage::DirResult::num_different_files);
  put("num_target_miss_files", &storage::DirResult::num_target_miss_files);
  put("num_target_more_files", &storage::DirResult::num_target_more_files);
  put("num_changed_files", &storage::DirResult::num_changed_files);
  put("num_error_files", &storage::DirResult::num_error_files);
  put("num_metadata_different_files",
      &storage::DirResult::num_metadata_different_files);
  put("num_corrupt_files", &storage::DirResult::num_corrupt_files);
  return o;
}

ApiResult<storage::Run> LoadRun(storage::Store& store, const Identity& who,
                                const std::string& task_id,
                                const std::string& run_id,
                                std::string_view field) {
  if (!auth::IsUuid(run_id))
    return Malformed(field, "expected a lower-case UUID");
  auto run = store.GetRun(who.domain_id, run_id);
  if (!run) return StoreFail(run.error(), kRunNotFound);
  if (run->task_id != task_id) return ApiFail(ApiCode::kNotFound, kRunNotFound);
  return std::move(*run);
}

}  // namespace

std::string EncodeChangeMarker(const storage::FileDetail& f) {
  std::string raw = f.dir_check;
  raw += '\0';
  raw += f.path;
  raw += '\0';
  raw += f.path_b64;
  return auth::Base64UrlEncode(raw);
}

ApiResult<storage::ChangeQuery> DecodeChangeMarker(std::string_view marker,
                                                   storage::ChangeQuery q) {
  std::string text(marker);
  for (char& ch : text) {
    if (ch == '-') ch = '+';
    if (ch == '_') ch = '/';
  }
  while (text.size() % 4 != 0) text += '=';
  auto raw = auth::Base64Decode(text);
  if (!raw) return Malformed("marker", "not a marker of this listing");
  const size_t a = raw->find('\0');
  const size_t b = a == std::string::npos ? a : raw->find('\0', a + 1);
  if (b == std::string::npos)
    return Malformed("marker", "not a marker of this listing");
  q.after_dir = raw->substr(0, a);
  q.after_path = raw->substr(a + 1, b - a - 1);
  q.after_path_b64 = raw->substr(b + 1);
  return q;
}

ApiResult<json::value> ChangesService::List(const Identity& who,
                                            const std::string& task_id,
                                            const QueryParams& q) {
  SMS_RETURN_IF_ERROR(Require(who, Action::kResultRead));
  storage::ChangeQuery cq;
  if (auto it = q.find("limit"); it != q.end()) {
    SMS_ASSIGN_OR_RETURN(int64_t n,
                         ParseQueryInt(it->second, "limit", 1, 1000));
    cq.limit = static_cast<int>(n);
  }
  if (auto it = q.find("dir_check"); it != q.end()) {
    if (it->second.size() > 4096)
      return Malformed("dir_check", "longer than 4096 bytes");
    cq.dir_check = it->second;
  }
  if (auto it = q.find("change"); it != q.end()) {
    SMS_RETURN_IF_ERROR(
        CheckEnum(it->second, "change", {"new", "resolved", "persisting"}));
    cq.change = it->second;
  }
  if (auto it = q.find("marker"); it != q.end()) {
    SMS_ASSIGN_OR_RETURN(cq, DecodeChangeMarker(it->second, std::move(cq)));
  }
  SMS_RETURN_IF_ERROR(tasks_.LoadTask(who, task_id));

  // The two runs: as given, or the last two successful runs of one scope.
  std::optional<storage::Run> from, to;
  if (auto it = q.find("to"); it != q.end()) {
    SMS_ASSIGN_OR_RETURN(to, LoadRun(store_, who, task_id, it->second, "to"));
  }
  if (auto it = q.find("from"); it != q.end()) {
    SMS_ASSIGN_OR_RETURN(from,
                         LoadRun(store_, who, task_id, it->second, "from"));
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
  cq.from_run_id = from->run_id;
  cq.to_run_id = to->run_id;
  const int limit = cq.limit;
  cq.limit = limit + 1;  // one more tells whether a next page exists
  auto rows = store_.ListChanges(who.domain_id, cq);
  if (!rows) return StoreFail(rows.error(), kRunNotFound);
  const bool more = static_cast<int>(rows->size()) > limit;
  if (more) rows->resize(limit);

  json::array files;
  for (const storage::ChangeRow& r : *rows) {
    json::object f{{"dir_check", r.file.dir_check}, {"path", r.file.path}};
    if (!r.file.path_b64.empty()) f["path_b64"] = r.file.path_b64;
    f["change"] = r.change;
    f["status"] = r.file.status;
    if (!r.file.reason.empty()) f["reason"] = r.file.reason;
    if (!r.from_status.empty()) f["previous_status"] = r.from_status;
    f["first_seen_time"] = r.first_seen_time;
    if (!r.file.source_json.empty()) {
      if (auto v = ParseJsonBody(r.file.source_json)) f["source"] = *v;
    }
    if (!r.file.target_json.empty()) {
      if (auto v = ParseJsonBody(r.file.target_json)) f["target"] = *v;
    }
    files.push_back(std::move(f));
  }
  json::array dirs;
  std::set<std::string> seen;
  auto find = [](const storage::Run& run,
                 const std::string& dir) -> const storage::DirResult* {
    for (const auto& d : run.dirs)
      if (d.dir_check == dir) return &d;
    return nullptr;
  };
  for (const storage::Run* r : {&*to, &*from}) {
    for (const auto& d : r->dirs) {
      if (!seen.insert(d.dir_check).second) continue;
      if (cq.dir_check && *cq.dir_check != d.dir_check) continue;
      dirs.push_back(DirChange(d.dir_check, find(*from, d.dir_check),
                               find(*to, d.dir_check)));
    }
  }
  json::object out{{"task_id", task_id},
                   {"from_run_id", from->run_id},
                   {"to_run_id", to->run_id},
                   {"from_time", from->started_time},
                   {"to_time", to->started_time},
                   {"files", std::move(files)},
                   {"directories", std::move(dirs)}};
  if (more) out["next_marker"] = EncodeChangeMarker(rows->back().file);
  return json::value(std::move(out));
}

}  // namespace sms::server
