#include "server/result_service.h"

#include <charconv>

#include "auth/crypto.h"

namespace sms::server {

using auth::Base64Decode;
using auth::Base64UrlEncode;
using auth::IsUuid;
using auth::NewUuid;
using auth::Sha256Hex;
namespace {

constexpr char kTaskNotFound[] = "The task does not exist.";
constexpr char kRunNotFound[] = "The run does not exist.";
constexpr int64_t kMaxCounter = 2147483647;
constexpr int64_t kMaxInt64 = INT64_MAX;

// dir_check: 1..4096 bytes, absolute (POSIX, or a Windows drive path), no
// NUL. (UTF-8 validity is enforced by the JSON parser.)
ApiStatus CheckDir(const std::string& d, const std::string& path) {
  if (d.find('\0') != std::string::npos) return Malformed(path, "contains NUL");
  bool posix = !d.empty() && d[0] == '/';
  bool windows = d.size() >= 3 &&
                 std::isalpha(static_cast<unsigned char>(d[0])) &&
                 d[1] == ':' && (d[2] == '\\' || d[2] == '/');
  if (!posix && !windows) return Malformed(path, "must be an absolute path");
  return {};
}

struct ParsedUpload {
  std::optional<std::string> run_id, check_result, mode, hash_algorithm,
      error_msg;
  std::optional<int64_t> started_time, finished_time;
  std::vector<storage::DirResult> dirs;
  json::object canonical;  // what the content hash covers
};

ApiResult<ParsedUpload> ParseUpload(const json::object& body) {
  ParsedUpload u;
  auto list = ReqArray(body, "consistency_result", "consistency_result", 0, 30);
  if (!list) return tl::unexpected(list.error());
  auto run_id = OptString(body, "run_id", "run_id", 36, 36);
  if (!run_id) return tl::unexpected(run_id.error());
  if (*run_id && !IsUuid(**run_id))
    return Malformed("run_id", "expected a lower-case UUID");
  u.run_id = *run_id;
  auto check = OptString(body, "check_result", "check_result", 1, 16);
  if (!check) return tl::unexpected(check.error());
  if (*check) {
    if (auto s = CheckEnum(**check, "check_result", {"success", "failed"}); !s)
      return tl::unexpected(s.error());
  }
  u.check_result = *check;
  auto mode = OptString(body, "mode", "mode", 1, 16);
  if (!mode) return tl::unexpected(mode.error());
  if (*mode) {
    if (auto s = CheckEnum(**mode, "mode", {"hash", "quick"}); !s)
      return tl::unexpected(s.error());
  }
  u.mode = *mode;
  auto algo = OptString(body, "hash_algorithm", "hash_algorithm", 1, 32);
  if (!algo) return tl::unexpected(algo.error());
  u.hash_algorithm = *algo;
  auto err = OptString(body, "error_msg", "error_msg", 0, 1024);
  if (!err) return tl::unexpected(err.error());
  u.error_msg = *err;
  auto started = OptInt(body, "started_time", "started_time", 0, kMaxInt64);
  if (!started) return tl::unexpected(started.error());
  u.started_time = *started;
  auto finished = OptInt(body, "finished_time", "finished_time", 0, kMaxInt64);
  if (!finished) return tl::unexpected(finished.error());
  u.finished_time = *finished;

  json::array canon_dirs;
  for (size_t i = 0; i < (*list)->size(); ++i) {
    std::string path = "consistency_result[" + std::to_string(i) + "]";
    auto item = AsObject((**list)[i], path);
    if (!item) return tl::unexpected(item.error());
    storage::DirResult d;
    auto dir = ReqString(**item, "dir_check", path + ".dir_check", 1, 4096);
    if (!dir) return tl::unexpected(dir.error());
    if (auto s = CheckDir(*dir, path + ".dir_check"); !s)
      return tl::unexpected(s.error());
    d.dir_check = std::move(*dir);
    struct Counter {
      const char* name;
      int64_t* field;
      bool required;
      int64_t max;
    };
    Counter counters[] = {
        {"num_total_files", &d.num_total_files, true, kMaxCounter},
        {"num_different_files", &d.num_different_files, true, kMaxCounter},
        {"num_target_miss_files", &d.num_target_miss_files, true, kMaxCounter},
        {"num_target_more_files", &d.num_target_more_files, true, kMaxCounter},
        {"num_changed_files", &d.num_changed_files, false, kMaxCounter},
        {"num_error_files", &d.num_error_files, false, kMaxCounter},
        {"num_metadata_different_files", &d.num_metadata_different_files, false,
         kMaxCounter},
        {"num_bytes_verified", &d.num_bytes_verified, false, kMaxInt64},
    };
    json::object canon{{"dir_check", d.dir_check}};
    for (const Counter& c : counters) {
      auto n = OptInt(**item, c.name, path + "." + c.name, 0, c.max);
      if (!n) return tl::unexpected(n.error());
      if (!n->has_value() && c.required) return Missing(path + "." + c.name);
      *c.field = n->value_or(0);
      canon[c.name] = *c.field;
    }
    canon_dirs.push_back(std::move(canon));
    u.dirs.push_back(std::move(d));
  }
  json::object& c = u.canonical;
  auto put = [&c](const char* k, const auto& v) {
    if (v) c[k] = *v;
  };
  put("check_result", u.check_result);
  put("mode", u.mode);
  put("hash_algorithm", u.hash_algorithm);
  put("error_msg", u.error_msg);
  put("started_time", u.started_time);
  put("finished_time", u.finished_time);
  c["consistency_result"] = std::move(canon_dirs);
  return u;
}

json::value DirToJson(const storage::DirResult& d) {
  return json::object{
      {"dir_check", d.dir_check},
      {"num_total_files", d.num_total_files},
      {"num_different_files", d.num_different_files},
      {"num_target_miss_files", d.num_target_miss_files},
      {"num_target_more_files", d.num_target_more_files},
      {"num_changed_files", d.num_changed_files},
      {"num_error_files", d.num_error_files},
      {"num_metadata_different_files", d.num_metadata_different_files},
      {"num_bytes_verified", d.num_bytes_verified},
  };
}

// Normalises one side of a FileDiff to its known fields.
ApiResult<std::string> ParseSide(const json::object& file, const char* key,
                                 const std::string& path) {
  auto side = OptObject(file, key, path);
  if (!side) return tl::unexpected(side.error());
  if (*side == nullptr) return std::string();
  json::object out;
  auto type = OptString(**side, "type", path + ".type", 1, 16);
  if (!type) return tl::unexpected(type.error());
  if (*type) out["type"] = **type;
  for (const char* f : {"size", "mtime", "mode", "uid", "gid"}) {
    auto n = OptInt(**side, f, path + "." + f, INT64_MIN, kMaxInt64);
    if (!n) return tl::unexpected(n.error());
    if (*n) out[f] = **n;
  }
  auto hash = OptString(**side, "hash", path + ".hash", 0, 256);
  if (!hash) return tl::unexpected(hash.error());
  if (*hash) out["hash"] = **hash;
  return ToJson(out);
}

}  // namespace

std::string EncodeMarker(int64_t seq, int64_t idx) {
  return Base64UrlEncode("m1:" + std::to_string(seq) + ":" +
                         std::to_string(idx));
}

ApiResult<std::pair<int64_t, int64_t>> DecodeMarker(std::string_view marker) {
  auto bad = [] { return Malformed("marker", "not a marker of this listing"); };
  if (marker.size() > 128) return bad();
  auto raw = Base64Decode(marker);
  if (!raw || raw->rfind("m1:", 0) != 0) return bad();
  std::string_view rest = std::string_view(*raw).substr(3);
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return bad();
  int64_t seq = 0, idx = 0;
  auto p1 = std::from_chars(rest.data(), rest.data() + colon, seq);
  auto p2 =
      std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), idx);
  if (p1.ec != std::errc() || p1.ptr != rest.data() + colon ||
      p2.ec != std::errc() || p2.ptr != rest.data() + rest.size() || seq < 0 ||
      idx < 0)
    return bad();
  return std::make_pair(seq, idx);
}

json::value RunToJson(const storage::Run& run) {
  json::array dirs;
  bool consistent = run.check_result == "success";
  for (const auto& d : run.dirs) {
    dirs.push_back(DirToJson(d));
    if (d.num_different_files || d.num_target_miss_files ||
        d.num_target_more_files || d.num_changed_files || d.num_error_files ||
        d.num_metadata_different_files)
      consistent = false;
  }
  json::object o{{"finished_time", run.finished_time},
                 {"check_result", run.check_result},
                 {"consistency_result", std::move(dirs)},
                 {"run_id", run.run_id},
                 {"started_time", run.started_time}};
  if (!run.mode.empty()) o["mode"] = run.mode;
  if (!run.hash_algorithm.empty()) o["hash_algorithm"] = run.hash_algorithm;
  o["consistent"] = consistent;
  if (!run.error_msg.empty()) o["error_msg"] = run.error_msg;
  return o;
}

ResultService::ResultService(storage::Store& store, core::Clock& clock,
                             TaskService& tasks)
    : store_(store), clock_(clock), tasks_(tasks) {}

ApiResult<UploadOutcome> ResultService::Upload(const Identity& who,
                                               const std::string& task_id,
                                               const json::object& body) {
  if (auto s = Require(who, Action::kResultUpload); !s)
    return tl::unexpected(s.error());
  auto parsed = ParseUpload(body);
  if (!parsed) return tl::unexpected(parsed.error());
  auto task = tasks_.LoadTask(who, task_id);
  if (!task) return tl::unexpected(task.error());
  if (auto s = tasks_.CheckAgentOwnsTask(who, *task); !s)
    return tl::unexpected(s.error());

  const int64_t now = clock_.NowEpochMillis();
  storage::Run run;
  run.run_id = parsed->run_id.value_or(NewUuid());
  run.domain_id = who.domain_id;
  run.task_id = task_id;
  run.finished_time = parsed->finished_time.value_or(now);
  run.started_time = parsed->started_time.value_or(run.finished_time);
  if (run.started_time > run.finished_time)
    return Malformed("started_time", "later than finished_time");
  run.check_result = parsed->check_result.value_or("success");
  run.mode = parsed->mode.value_or("");
  run.hash_algorithm = parsed->hash_algorithm.value_or("");
  run.error_msg = parsed->error_msg.value_or("");
  run.content_hash = Sha256Hex(ToJson(parsed->canonical));
  run.committed_at = now;
  run.dirs = std::move(parsed->dirs);
  auto outcome = store_.CommitRun(run);
  if (!outcome) {
    if (outcome.error().code == core::ErrorCode::kAlreadyExists) {
      return ApiFail(ApiCode::kConflict,
                     "run_id: a run with this id was already committed with "
                     "different content");
    }
    return StoreFail(outcome.error(), kTaskNotFound);
  }
  bool committed = *outcome == storage::CommitOutcome::kCommitted;
  if (committed) runs_committed_.fetch_add(1);
  return UploadOutcome{committed, run.run_id};
}

ApiResult<json::value> ResultService::Get(const Identity& who,
                                          const std::string& task_id,
                                          const QueryParams& q) {
  if (auto s = Require(who, Action::kResultRead); !s)
    return tl::unexpected(s.error());
  int64_t limit = 100;
  if (auto it = q.find("limit"); it != q.end()) {
    auto n = ParseQueryInt(it->second, "limit", 1, 100);
    if (!n) return tl::unexpected(n.error());
    limit = *n;
  }
  auto runs = store_.ListRuns(who.domain_id, task_id, static_cast<int>(limit));
  if (!runs) return StoreFail(runs.error(), kTaskNotFound);
  // Runs of the task in this domain exist only while the task does (they
  // go with it): only an empty list needs the task looked up, to tell an
  // unknown task (404) from one not yet checked. One round trip less on
  // PostgreSQL.
  if (runs->empty()) {
    auto task = tasks_.LoadTask(who, task_id);
    if (!task) return tl::unexpected(task.error());
  }
  json::array list;
  for (const auto& r : *runs) list.push_back(RunToJson(r));
  return json::object{{"task_id", task_id}, {"result_list", std::move(list)}};
}

ApiResult<json::value> ResultService::UploadDetails(const Identity& who,
                                                    const std::string& task_id,
                                                    const json::object& body) {
  if (auto s = Require(who, Action::kResultUpload); !s)
    return tl::unexpected(s.error());
  auto run_id = ReqString(body, "run_id", "run_id", 36, 36);
  if (!run_id) return tl::unexpected(run_id.error());
  if (!IsUuid(*run_id))
    return Malformed("run_id", "expected a lower-case UUID");
  auto seq = ReqInt(body, "seq", "seq", 0, 1000000);
  if (!seq) return tl::unexpected(seq.error());
  auto files = ReqArray(body, "files", "files", 0, 10000);
  if (!files) return tl::unexpected(files.error());
  storage::DetailChunk chunk;
  chunk.run_id = *run_id;
  chunk.domain_id = who.domain_id;
  chunk.task_id = task_id;
  chunk.seq = *seq;
  chunk.created_at = clock_.NowEpochMillis();
  std::string canonical;
  for (size_t i = 0; i < (*files)->size(); ++i) {
    std::string path = "files[" + std::to_string(i) + "]";
    auto item = AsObject((**files)[i], path);
    if (!item) return tl::unexpected(item.error());
    storage::FileDetail f;
    auto dir = ReqString(**item, "dir_check", path + ".dir_check", 1, 4096);
    if (!dir) return tl::unexpected(dir.error());
    if (auto s = CheckDir(*dir, path + ".dir_check"); !s)
      return tl::unexpected(s.error());
    f.dir_check = std::move(*dir);
    auto p = ReqString(**item, "path", path + ".path", 1, 16384);
    if (!p) return tl::unexpected(p.error());
    f.path = std::move(*p);
    auto b64 = OptString(**item, "path_b64", path + ".path_b64", 1, 16384);
    if (!b64) return tl::unexpected(b64.error());
    if (*b64) {
      if (!Base64Decode(**b64))
        return Malformed(path + ".path_b64", "not base64");
      f.path_b64 = **b64;
    }
    auto status = ReqString(**item, "status", path + ".status", 1, 32);
    if (!status) return tl::unexpected(status.error());
    if (auto s =
            CheckEnum(*status, path + ".status",
                      {"different", "target_miss", "target_more", "changed",
                       "error", "metadata_different", "corrupt"});
        !s)
      return tl::unexpected(s.error());
    f.status = std::move(*status);
    auto reason = OptString(**item, "reason", path + ".reason", 0, 256);
    if (!reason) return tl::unexpected(reason.error());
    f.reason = reason->value_or("");
    auto src = ParseSide(**item, "source", path + ".source");
    if (!src) return tl::unexpected(src.error());
    f.source_json = std::move(*src);
    auto tgt = ParseSide(**item, "target", path + ".target");
    if (!tgt) return tl::unexpected(tgt.error());
    f.target_json = std::move(*tgt);
    canonical +=
        ToJson(json::array{json::string(f.dir_check), json::string(f.path),
                           json::string(f.path_b64), json::string(f.status),
                           json::string(f.reason), json::string(f.source_json),
                           json::string(f.target_json)});
    canonical += '\n';
    chunk.files.push_back(std::move(f));
  }
  chunk.content_hash = Sha256Hex(canonical);
  auto task = tasks_.LoadTask(who, task_id);
  if (!task) return tl::unexpected(task.error());
  if (auto s = tasks_.CheckAgentOwnsTask(who, *task); !s)
    return tl::unexpected(s.error());
  auto staged = store_.StageDetails(chunk);
  if (!staged) {
    if (staged.error().code == core::ErrorCode::kAlreadyExists)
      return ApiFail(ApiCode::kConflict,
                     "seq: chunk " + std::to_string(*seq) +
                         " of this run was already uploaded with different "
                         "content");
    if (staged.error().code == core::ErrorCode::kFailedPrecondition)
      return ApiFail(ApiCode::kBadState,
                     "run_id: the run is already committed; details must be "
                     "uploaded before the result");
    return StoreFail(staged.error(), kTaskNotFound);
  }
  return json::object{{"run_id", chunk.run_id},
                      {"seq", chunk.seq},
                      {"count", static_cast<int64_t>(chunk.files.size())},
                      {"staged", *staged == storage::StageOutcome::kStaged}};
}

ApiResult<json::value> ResultService::ListDetails(const Identity& who,
                                                  const std::string& task_id,
                                                  const QueryParams& q) {
  if (auto s = Require(who, Action::kResultRead); !s)
    return tl::unexpected(s.error());
  storage::DetailQuery dq;
  if (auto it = q.find("limit"); it != q.end()) {
    auto n = ParseQueryInt(it->second, "limit", 1, 1000);
    if (!n) return tl::unexpected(n.error());
    dq.limit = static_cast<int>(*n);
  }
  if (auto it = q.find("dir_check"); it != q.end()) {
    if (it->second.size() > 4096)
      return Malformed("dir_check", "longer than 4096 bytes");
    dq.dir_check = it->second;
  }
  if (auto it = q.find("status"); it != q.end()) {
    if (auto s =
            CheckEnum(it->second, "status",
                      {"different", "target_miss", "target_more", "changed",
                       "error", "metadata_different", "corrupt"});
        !s)
      return tl::unexpected(s.error());
    dq.status = it->second;
  }
  if (auto it = q.find("marker"); it != q.end()) {
    auto m = DecodeMarker(it->second);
    if (!m) return tl::unexpected(m.error());
    dq.after_seq = m->first;
    dq.after_idx = m->second;
  }
  auto task = tasks_.LoadTask(who, task_id);
  if (!task) return tl::unexpected(task.error());
  if (auto it = q.find("run_id"); it != q.end()) {
    if (!IsUuid(it->second))
      return Malformed("run_id", "expected a lower-case UUID");
    auto run = store_.GetRun(who.domain_id, it->second);
    if (!run) return StoreFail(run.error(), kRunNotFound);
    if (run->task_id != task_id)
      return ApiFail(ApiCode::kNotFound, kRunNotFound);
    dq.run_id = it->second;
  } else {
    auto runs = store_.ListRuns(who.domain_id, task_id, 1);
    if (!runs) return StoreFail(runs.error(), kTaskNotFound);
    if (runs->empty()) return ApiFail(ApiCode::kNotFound, kRunNotFound);
    dq.run_id = runs->front().run_id;
  }
  const int limit = dq.limit;
  dq.limit = limit + 1;  // one more tells whether a next page exists
  auto page = store_.ListDetails(who.domain_id, dq);
  if (!page) return StoreFail(page.error(), kRunNotFound);
  bool more = static_cast<int>(page->rows.size()) > limit;
  if (more) page->rows.resize(limit);
  json::array files;
  for (const auto& r : page->rows) {
    json::object f{{"dir_check", r.file.dir_check}, {"path", r.file.path}};
    if (!r.file.path_b64.empty()) f["path_b64"] = r.file.path_b64;
    f["status"] = r.file.status;
    if (!r.file.reason.empty()) f["reason"] = r.file.reason;
    f["first_seen_time"] = r.first_seen_time;
    if (!r.file.source_json.empty()) {
      if (auto v = ParseJsonBody(r.file.source_json)) f["source"] = *v;
    }
    if (!r.file.target_json.empty()) {
      if (auto v = ParseJsonBody(r.file.target_json)) f["target"] = *v;
    }
    files.push_back(std::move(f));
  }
  json::object out{{"task_id", task_id},
                   {"run_id", dq.run_id},
                   {"count", page->total},
                   {"files", std::move(files)}};
  if (more) {
    out["next_marker"] =
        EncodeMarker(page->rows.back().seq, page->rows.back().idx);
  }
  return out;
}

}  // namespace sms::server
