#include "server/codec/changes_codec.h"

#include <set>
#include <utility>

#include "auth/crypto.h"

namespace sms::server {
namespace {

constexpr char kBadMarker[] = "not a marker of this listing";

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

const storage::DirResult* FindDir(const storage::Run& run,
                                  const std::string& dir) {
  for (const auto& d : run.dirs)
    if (d.dir_check == dir) return &d;
  return nullptr;
}

json::object FileChange(const storage::ChangeRow& r) {
  json::object f{{"dir_check", r.file.dir_check}, {"path", r.file.path}};
  if (!r.file.path_b64.empty()) f["path_b64"] = r.file.path_b64;
  f["change"] = r.change;
  f["status"] = r.file.status;
  if (!r.file.reason.empty()) f["reason"] = r.file.reason;
  if (!r.from_status.empty()) f["previous_status"] = r.from_status;
  f["first_seen_time"] = r.first_seen_time;
  // Stored by the result codec from checked JSON: parses.
  if (!r.file.source_json.empty()) {
    if (auto v = ParseJsonBody(r.file.source_json)) f["source"] = *v;
  }
  if (!r.file.target_json.empty()) {
    if (auto v = ParseJsonBody(r.file.target_json)) f["target"] = *v;
  }
  return f;
}

ApiResult<std::optional<std::string>> RunIdParam(const QueryParams& q,
                                                 const std::string& key) {
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> id, QueryString(q, key, 64));
  if (id && !auth::IsUuid(*id))
    return Malformed(key, "expected a lower-case UUID");
  return id;
}

}  // namespace

ApiResult<ChangesRequest> DecodeChangesQuery(const QueryParams& q) {
  ChangesRequest r;
  SMS_ASSIGN_OR_RETURN(r.from_run_id, RunIdParam(q, "from"));
  SMS_ASSIGN_OR_RETURN(r.to_run_id, RunIdParam(q, "to"));
  SMS_ASSIGN_OR_RETURN(int64_t limit, QueryInt(q, "limit", 100, 1, 1000));
  r.query.limit = static_cast<int>(limit);
  SMS_ASSIGN_OR_RETURN(r.query.dir_check, QueryString(q, "dir_check", 4096));
  SMS_ASSIGN_OR_RETURN(r.query.change, QueryString(q, "change", 32));
  if (r.query.change) {
    SMS_RETURN_IF_ERROR(CheckEnum(*r.query.change, "change",
                                  {"new", "resolved", "persisting"}));
  }
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> marker,
                       QueryString(q, "marker", 16384));
  if (marker) {
    SMS_ASSIGN_OR_RETURN(r.query, DecodeChangeMarker(*marker, r.query));
  }
  return r;
}

json::value EncodeChangesPage(const ChangesPage& page) {
  json::array files;
  for (const storage::ChangeRow& r : page.rows) files.push_back(FileChange(r));
  json::array dirs;
  std::set<std::string> seen;
  for (const storage::Run* r : {&page.to, &page.from}) {
    for (const auto& d : r->dirs) {
      if (!seen.insert(d.dir_check).second) continue;
      if (page.dir_check && *page.dir_check != d.dir_check) continue;
      dirs.push_back(DirChange(d.dir_check, FindDir(page.from, d.dir_check),
                               FindDir(page.to, d.dir_check)));
    }
  }
  json::object out{
      {"task_id", page.task_id},         {"from_run_id", page.from.run_id},
      {"to_run_id", page.to.run_id},     {"from_time", page.from.started_time},
      {"to_time", page.to.started_time}, {"files", std::move(files)},
      {"directories", std::move(dirs)}};
  if (page.more && !page.rows.empty())
    out["next_marker"] = EncodeChangeMarker(page.rows.back().file);
  return json::value(std::move(out));
}

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
  if (!raw) return Malformed("marker", kBadMarker);
  const size_t a = raw->find('\0');
  const size_t b = a == std::string::npos ? a : raw->find('\0', a + 1);
  if (b == std::string::npos) return Malformed("marker", kBadMarker);
  q.after_dir = raw->substr(0, a);
  q.after_path = raw->substr(a + 1, b - a - 1);
  q.after_path_b64 = raw->substr(b + 1);
  return q;
}

}  // namespace sms::server
