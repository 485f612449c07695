#include "agent/recheck.h"

#include <boost/json.hpp>

#include "auth/crypto.h"

namespace sms::agent {
namespace json = boost::json;

namespace {

constexpr int kPageLimit = 1000;
// A server that keeps answering with a next_marker must not keep us forever:
// 100,000 pages of 1,000 files.
constexpr int kMaxPages = 100000;

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
}

core::Result<json::object> ParseObject(const std::string& body,
                                       const std::string& what) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return core::Fail(
        core::InvalidArgument(what + ": the reply is not a JSON object"));
  }
  return v.get_object();
}

}  // namespace

std::string QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

core::Result<InconsistentPaths> FetchInconsistentPaths(
    ServerClient& client, const std::string& task_id, std::string base_run_id,
    const std::vector<std::string>& dirs) {
  const std::string base = "/v3/tasks/" + task_id + "/consistency-result";
  if (base_run_id.empty()) {
    SMS_ASSIGN_OR_RETURN(std::string body, client.GetJson(base + "?limit=100"));
    SMS_ASSIGN_OR_RETURN(json::object o, ParseObject(body, "GET " + base));
    if (const json::value* list = o.if_contains("result_list");
        list != nullptr && list->is_array()) {
      for (const auto& run : list->get_array()) {
        if (!run.is_object()) continue;
        if (Str(run.get_object(), "check_result") == "success") {
          base_run_id = Str(run.get_object(), "run_id");
          break;
        }
      }
    }
    if (base_run_id.empty()) {
      return core::Fail(core::FailedPrecondition(
          "task " + task_id +
          " has no successful run whose differences could be checked again"));
    }
  }
  InconsistentPaths out;
  out.base_run_id = base_run_id;
  PathSetBuilder builder(dirs);
  std::string marker;
  for (int page = 0;; ++page) {
    if (page == kMaxPages) {
      return core::Fail(core::DataLoss(
          "GET " + base + "/details: more than 100,000 pages, giving up"));
    }
    std::string path = base + "/details?run_id=" + QueryEscape(base_run_id) +
                       "&limit=" + std::to_string(kPageLimit);
    if (!marker.empty()) path += "&marker=" + QueryEscape(marker);
    SMS_ASSIGN_OR_RETURN(std::string body, client.GetJson(path));
    SMS_ASSIGN_OR_RETURN(json::object o,
                         ParseObject(body, "GET " + base + "/details"));
    if (const json::value* files = o.if_contains("files");
        files != nullptr && files->is_array()) {
      for (const auto& f : files->get_array()) {
        if (!f.is_object()) continue;
        const json::object& fo = f.get_object();
        if (Str(fo, "status") == "same") continue;
        std::string file_path = Str(fo, "path");
        if (const std::string b64 = Str(fo, "path_b64"); !b64.empty()) {
          if (auto bytes = auth::Base64Decode(b64)) file_path = *bytes;
        }
        ++out.files;
        builder.Add(Str(fo, "dir_check"), file_path);
      }
    }
    const std::string next = Str(o, "next_marker");
    if (next.empty()) break;
    if (next == marker) {
      return core::Fail(
          core::DataLoss("GET " + base + "/details: the marker did not move"));
    }
    marker = next;
  }
  out.paths = builder.Build();
  return out;
}

}  // namespace sms::agent
