#include "server/codec/result_codec.h"

#include <cctype>
#include <charconv>
#include <type_traits>

#include "auth/crypto.h"

namespace sms::server {

using auth::Base64Decode;
using auth::Base64UrlEncode;
using auth::IsUuid;
using auth::Sha256Hex;
namespace {

constexpr int64_t kMaxCounter = 2147483647;
constexpr int64_t kMaxInt64 = INT64_MAX;

// The statuses of a detail row (docs/openapi.json FileDiff.status).
ApiStatus CheckDetailStatus(const std::string& value, std::string_view path) {
  return CheckEnum(value, path,
                   {"different", "target_miss", "target_more", "changed",
                    "error", "metadata_different", "corrupt"});
}

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

// The canonical form of an upload is JSON as Boost.JSON serialises it
// (keys in insertion order, no spaces), written directly: building a
// json::object per directory only to hash it cost more than the rest of
// the decode. codec_test.cc checks the bytes against Boost.JSON's.

// A JSON string as Boost.JSON escapes it: '"', '\\', \b \f \n \r \t, other
// bytes below 0x20 as \u00xx (lower-case hex); every other byte as is (the
// parser has checked the UTF-8).
void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    out->push_back('\\');
    switch (ch) {
      case '"':
        out->push_back('"');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '\b':
        out->push_back('b');
        break;
      case '\f':
        out->push_back('f');
        break;
      case '\n':
        out->push_back('n');
        break;
      case '\r':
        out->push_back('r');
        break;
      case '\t':
        out->push_back('t');
        break;
      default:
        out->append("u00");
        out->push_back(kHex[ch >> 4]);
        out->push_back(kHex[ch & 15]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void AppendJsonInt(std::string* out, int64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out->append(buf, r.ptr);
}

// `"key":` after a comma unless it is the object's first member. Keys are
// ASCII identifiers: nothing to escape.
void AppendKey(std::string* out, std::string_view key) {
  if (out->back() != '{') out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

// Prefixes an error of a field inside an element with the element's path:
// "dir_check: ..." -> "consistency_result[3].dir_check: ...". The path is
// built only for an error, not for every field of every element.
tl::unexpected<ApiError> InElement(std::string_view array, size_t i,
                                   ApiError e) {
  e.message = std::string(array) + "[" + std::to_string(i) + "]." + e.message;
  return tl::unexpected<ApiError>(std::move(e));
}

// One directory of an upload, appending its canonical form to `canon`.
// Errors name the field relative to the directory ("dir_check: ...").
ApiResult<storage::DirResult> DecodeDir(const json::object& item,
                                        std::string* canon) {
  storage::DirResult d;
  SMS_ASSIGN_OR_RETURN(d.dir_check,
                       ReqString(item, "dir_check", "dir_check", 1, 4096));
  SMS_RETURN_IF_ERROR(CheckDir(d.dir_check, "dir_check"));
  struct Counter {
    const char* name;
    int64_t* field;
    bool required;
    int64_t max;
    // Issue 12's counters are in the content hash only when sent, so a run
    // uploaded before them hashes as it did (a retry stays a no-op).
    bool hashed_when_absent = true;
  };
  const Counter counters[] = {
      {"num_total_files", &d.num_total_files, true, kMaxCounter},
      {"num_different_files", &d.num_different_files, true, kMaxCounter},
      {"num_target_miss_files", &d.num_target_miss_files, true, kMaxCounter},
      {"num_target_more_files", &d.num_target_more_files, true, kMaxCounter},
      {"num_changed_files", &d.num_changed_files, false, kMaxCounter},
      {"num_error_files", &d.num_error_files, false, kMaxCounter},
      {"num_metadata_different_files", &d.num_metadata_different_files, false,
       kMaxCounter},
      {"num_bytes_verified", &d.num_bytes_verified, false, kMaxInt64},
      {"num_corrupt_files", &d.num_corrupt_files, false, kMaxCounter, false},
      {"num_cached_files", &d.num_cached_files, false, kMaxCounter, false},
      {"num_bytes_read", &d.num_bytes_read, false, kMaxInt64, false},
      {"num_target_cached_files", &d.num_target_cached_files, false,
       kMaxCounter, false},
      {"num_target_bytes_read", &d.num_target_bytes_read, false, kMaxInt64,
       false},
  };
  canon->push_back('{');
  AppendKey(canon, "dir_check");
  AppendJsonString(canon, d.dir_check);
  for (const Counter& c : counters) {
    SMS_ASSIGN_OR_RETURN(std::optional<int64_t> n,
                         OptInt(item, c.name, c.name, 0, c.max));
    if (!n && c.required) return Missing(c.name);
    *c.field = n.value_or(0);
    if (n || c.hashed_when_absent) {
      AppendKey(canon, c.name);
      AppendJsonInt(canon, *c.field);
    }
  }
  canon->push_back('}');
  return d;
}

json::value EncodeDir(const storage::DirResult& d) {
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
      {"num_corrupt_files", d.num_corrupt_files},
      {"num_cached_files", d.num_cached_files},
      {"num_bytes_read", d.num_bytes_read},
      {"num_target_cached_files", d.num_target_cached_files},
      {"num_target_bytes_read", d.num_target_bytes_read},
  };
}

// Normalises one side of a FileDiff to its known fields.
ApiResult<std::string> DecodeSide(const json::object& file, const char* key,
                                  const std::string& path) {
  SMS_ASSIGN_OR_RETURN(const json::object* side, OptObject(file, key, path));
  if (side == nullptr) return std::string();
  json::object out;
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> type,
                       OptString(*side, "type", path + ".type", 1, 16));
  if (type) out["type"] = *type;
  for (const char* f : {"size", "mtime", "mode", "uid", "gid"}) {
    SMS_ASSIGN_OR_RETURN(
        std::optional<int64_t> n,
        OptInt(*side, f, path + "." + f, INT64_MIN, kMaxInt64));
    if (n) out[f] = *n;
  }
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> hash,
                       OptString(*side, "hash", path + ".hash", 0, 256));
  if (hash) out["hash"] = *hash;
  return ToJson(out);
}

ApiResult<storage::FileDetail> DecodeFile(const json::value& v,
                                          const std::string& path) {
  SMS_ASSIGN_OR_RETURN(const json::object* item, AsObject(v, path));
  storage::FileDetail f;
  SMS_ASSIGN_OR_RETURN(
      f.dir_check, ReqString(*item, "dir_check", path + ".dir_check", 1, 4096));
  SMS_RETURN_IF_ERROR(CheckDir(f.dir_check, path + ".dir_check"));
  SMS_ASSIGN_OR_RETURN(f.path,
                       ReqString(*item, "path", path + ".path", 1, 16384));
  SMS_ASSIGN_OR_RETURN(
      std::optional<std::string> b64,
      OptString(*item, "path_b64", path + ".path_b64", 1, 16384));
  if (b64) {
    if (!Base64Decode(*b64)) return Malformed(path + ".path_b64", "not base64");
    f.path_b64 = std::move(*b64);
  }
  SMS_ASSIGN_OR_RETURN(f.status,
                       ReqString(*item, "status", path + ".status", 1, 32));
  SMS_RETURN_IF_ERROR(CheckDetailStatus(f.status, path + ".status"));
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> reason,
                       OptString(*item, "reason", path + ".reason", 0, 256));
  f.reason = reason.value_or("");
  SMS_ASSIGN_OR_RETURN(f.source_json,
                       DecodeSide(*item, "source", path + ".source"));
  SMS_ASSIGN_OR_RETURN(f.target_json,
                       DecodeSide(*item, "target", path + ".target"));
  return f;
}

}  // namespace

ApiResult<ResultUpload> DecodeResultUpload(const json::object& body) {
  ResultUpload u;
  SMS_ASSIGN_OR_RETURN(
      const json::array* list,
      ReqArray(body, "consistency_result", "consistency_result", 0, 30));
  SMS_ASSIGN_OR_RETURN(u.run_id, OptString(body, "run_id", "run_id", 36, 36));
  if (u.run_id && !IsUuid(*u.run_id))
    return Malformed("run_id", "expected a lower-case UUID");
  SMS_ASSIGN_OR_RETURN(u.check_result,
                       OptString(body, "check_result", "check_result", 1, 16));
  if (u.check_result) {
    SMS_RETURN_IF_ERROR(
        CheckEnum(*u.check_result, "check_result", {"success", "failed"}));
  }
  SMS_ASSIGN_OR_RETURN(u.mode, OptString(body, "mode", "mode", 1, 16));
  if (u.mode)
    SMS_RETURN_IF_ERROR(CheckEnum(*u.mode, "mode", {"hash", "quick"}));
  SMS_ASSIGN_OR_RETURN(u.hash_algorithm, OptString(body, "hash_algorithm",
                                                   "hash_algorithm", 1, 32));
  SMS_ASSIGN_OR_RETURN(u.error_msg,
                       OptString(body, "error_msg", "error_msg", 0, 1024));
  SMS_ASSIGN_OR_RETURN(u.started_time, OptInt(body, "started_time",
                                              "started_time", 0, kMaxInt64));
  SMS_ASSIGN_OR_RETURN(u.finished_time, OptInt(body, "finished_time",
                                               "finished_time", 0, kMaxInt64));
  SMS_ASSIGN_OR_RETURN(u.scope, OptString(body, "scope", "scope", 0, 32));
  if (u.scope && !u.scope->empty() && *u.scope != "inconsistent")
    return Malformed("scope", "must be \"inconsistent\" or absent");
  SMS_ASSIGN_OR_RETURN(u.base_run_id,
                       OptString(body, "base_run_id", "base_run_id", 0, 36));
  if (u.base_run_id && u.base_run_id->empty()) u.base_run_id.reset();
  if (u.base_run_id && !IsUuid(*u.base_run_id))
    return Malformed("base_run_id", "expected a lower-case UUID");
  if (u.base_run_id && u.scope.value_or("") != "inconsistent")
    return Malformed("base_run_id",
                     "only a run of scope \"inconsistent\" has a base run");

  // The canonical form: every field but run_id, absent ones left out.
  std::string canon;
  canon.reserve(256 + 512 * list->size());  // a directory takes ~400 bytes
  canon.push_back('{');
  auto put = [&canon](const char* k, const auto& v) {
    if (!v) return;
    AppendKey(&canon, k);
    if constexpr (std::is_same_v<std::decay_t<decltype(*v)>, std::string>) {
      AppendJsonString(&canon, *v);
    } else {
      AppendJsonInt(&canon, *v);
    }
  };
  put("check_result", u.check_result);
  put("mode", u.mode);
  put("hash_algorithm", u.hash_algorithm);
  put("error_msg", u.error_msg);
  put("started_time", u.started_time);
  put("finished_time", u.finished_time);
  put("scope", u.scope);
  put("base_run_id", u.base_run_id);
  AppendKey(&canon, "consistency_result");
  canon.push_back('[');
  u.dirs.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    const json::object* item = (*list)[i].if_object();
    if (item == nullptr) {
      return Malformed("consistency_result[" + std::to_string(i) + "]",
                       "expected an object");
    }
    if (i > 0) canon.push_back(',');
    auto d = DecodeDir(*item, &canon);
    if (!d) return InElement("consistency_result", i, std::move(d).error());
    u.dirs.push_back(std::move(*d));
  }
  canon.append("]}");
  u.content_hash = Sha256Hex(canon);
  return u;
}

ApiResult<ResultListQuery> DecodeResultListQuery(const QueryParams& q) {
  SMS_ASSIGN_OR_RETURN(int64_t limit, QueryInt(q, "limit", 100, 1, 100));
  ResultListQuery out{.limit = static_cast<int>(limit)};
  if (auto it = q.find("run_id"); it != q.end()) {
    if (!IsUuid(it->second))
      return Malformed("run_id", "expected a lower-case UUID");
    out.run_id = it->second;
  }
  return out;
}

json::value EncodeRun(const storage::Run& run) {
  json::array dirs;
  bool consistent = run.check_result == "success";
  for (const auto& d : run.dirs) {
    dirs.push_back(EncodeDir(d));
    if (d.num_different_files || d.num_target_miss_files ||
        d.num_target_more_files || d.num_changed_files || d.num_error_files ||
        d.num_metadata_different_files || d.num_corrupt_files)
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
  if (!run.scope.empty()) o["scope"] = run.scope;
  if (!run.base_run_id.empty()) o["base_run_id"] = run.base_run_id;
  return o;
}

json::value EncodeRunList(const std::string& task_id,
                          const std::vector<storage::Run>& runs) {
  json::array list;
  for (const auto& r : runs) list.push_back(EncodeRun(r));
  return json::object{{"task_id", task_id}, {"result_list", std::move(list)}};
}

ApiResult<storage::DetailChunk> DecodeDetailChunk(const json::object& body) {
  storage::DetailChunk chunk;
  SMS_ASSIGN_OR_RETURN(chunk.run_id,
                       ReqString(body, "run_id", "run_id", 36, 36));
  if (!IsUuid(chunk.run_id))
    return Malformed("run_id", "expected a lower-case UUID");
  SMS_ASSIGN_OR_RETURN(chunk.seq, ReqInt(body, "seq", "seq", 0, 1000000));
  SMS_ASSIGN_OR_RETURN(const json::array* files,
                       ReqArray(body, "files", "files", 0, 10000));
  std::string canonical;
  for (size_t i = 0; i < files->size(); ++i) {
    SMS_ASSIGN_OR_RETURN(
        storage::FileDetail f,
        DecodeFile((*files)[i], "files[" + std::to_string(i) + "]"));
    canonical +=
        ToJson(json::array{json::string(f.dir_check), json::string(f.path),
                           json::string(f.path_b64), json::string(f.status),
                           json::string(f.reason), json::string(f.source_json),
                           json::string(f.target_json)});
    canonical += '\n';
    chunk.files.push_back(std::move(f));
  }
  chunk.content_hash = Sha256Hex(canonical);
  return chunk;
}

json::value EncodeStagedDetails(const StagedDetails& s) {
  return json::object{{"run_id", s.run_id},
                      {"seq", s.seq},
                      {"count", s.count},
                      {"staged", s.staged}};
}

ApiResult<DetailListQuery> DecodeDetailListQuery(const QueryParams& q) {
  DetailListQuery d;
  SMS_ASSIGN_OR_RETURN(int64_t limit, QueryInt(q, "limit", 100, 1, 1000));
  d.limit = static_cast<int>(limit);
  SMS_ASSIGN_OR_RETURN(d.dir_check, QueryString(q, "dir_check", 4096));
  if (auto it = q.find("status"); it != q.end()) {
    SMS_RETURN_IF_ERROR(CheckDetailStatus(it->second, "status"));
    d.status = it->second;
  }
  if (auto it = q.find("marker"); it != q.end()) {
    SMS_ASSIGN_OR_RETURN(auto m, DecodeMarker(it->second));
    d.after_seq = m.first;
    d.after_idx = m.second;
  }
  if (auto it = q.find("run_id"); it != q.end()) d.run_id = it->second;
  return d;
}

json::value EncodeDetailListing(const DetailListing& l) {
  json::array files;
  for (const auto& r : l.rows) {
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
  json::object out{{"task_id", l.task_id},
                   {"run_id", l.run_id},
                   {"count", l.total},
                   {"files", std::move(files)}};
  if (l.more && !l.rows.empty())
    out["next_marker"] = EncodeMarker(l.rows.back().seq, l.rows.back().idx);
  return out;
}

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

}  // namespace sms::server
