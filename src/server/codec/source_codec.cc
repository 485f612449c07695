#include "server/codec/source_codec.h"

namespace sms::server {
namespace {

constexpr int64_t kConnectedWindowMs = 60 * 1000;

json::array Strings(const std::vector<std::string>& list) {
  json::array out;
  for (const std::string& s : list) out.push_back(json::string(s));
  return out;
}

}  // namespace

ApiResult<RegisterSourceRequest> DecodeRegisterSource(
    const json::object& body) {
  RegisterSourceRequest r;
  SMS_ASSIGN_OR_RETURN(r.name, ReqString(body, "name", "name", 1, 255));
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> hostname,
                       OptString(body, "hostname", "hostname", 1, 255));
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> ip,
                       OptString(body, "ip", "ip", 0, 64));
  SMS_ASSIGN_OR_RETURN(r.os_type, ReqString(body, "os_type", "os_type", 1, 16));
  SMS_RETURN_IF_ERROR(CheckEnum(r.os_type, "os_type", {"LINUX", "WINDOWS"}));
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> os_version,
                       OptString(body, "os_version", "os_version", 0, 255));
  SMS_ASSIGN_OR_RETURN(
      std::optional<std::string> agent_version,
      OptString(body, "agent_version", "agent_version", 0, 64));
  r.hostname = hostname.value_or(r.name);
  r.ip = ip.value_or("");
  r.os_version = os_version.value_or("");
  r.agent_version = agent_version.value_or("");
  return r;
}

ApiResult<storage::SourceFilter> DecodeSourceListQuery(const QueryParams& q) {
  storage::SourceFilter f;
  SMS_ASSIGN_OR_RETURN(f.name, QueryString(q, "name", 255));
  SMS_ASSIGN_OR_RETURN(Paging paging, DecodePaging(q));
  f.limit = paging.limit;
  f.offset = paging.offset;
  return f;
}

json::value EncodeSource(const storage::Source& s, int64_t now) {
  json::object o;
  o["id"] = s.id;
  o["name"] = s.name;
  o["hostname"] = s.hostname;
  o["ip"] = s.ip;
  o["os_type"] = s.os_type;
  o["os_version"] = s.os_version;
  o["agent_version"] = s.agent_version;
  o["add_date"] = s.created_at;
  o["last_visit_time"] = s.last_seen_at;
  o["connected"] =
      s.last_seen_at > 0 && now - s.last_seen_at <= kConnectedWindowMs;
  o["is_consistency_result_exist"] = s.has_results;
  return o;
}

json::value EncodeSourceList(const storage::Page<storage::Source>& page,
                             int64_t now) {
  json::array items;
  for (const auto& s : page.items) items.push_back(EncodeSource(s, now));
  return json::object{{"count", page.count},
                      {"source_servers", std::move(items)}};
}

ApiResult<CommandResultRequest> DecodeCommandResult(const json::object& body) {
  CommandResultRequest r;
  SMS_ASSIGN_OR_RETURN(std::string name,
                       ReqString(body, "command_name", "command_name", 1, 64));
  SMS_RETURN_IF_ERROR(
      CheckEnum(name, "command_name", {"CONSISTENCY_CHECK", "STOP"}));
  r.name = *storage::ParseCommandName(name);
  SMS_ASSIGN_OR_RETURN(std::string result,
                       ReqString(body, "result", "result", 1, 16));
  SMS_RETURN_IF_ERROR(CheckEnum(result, "result", {"success", "fail"}));
  r.success = result == "success";
  SMS_ASSIGN_OR_RETURN(const json::object* detail,
                       OptObject(body, "result_detail", "result_detail"));
  if (detail != nullptr) r.result_detail = ToJson(*detail);
  if (r.result_detail.size() > 65536)
    return Malformed("result_detail", "longer than 65536 bytes");
  return r;
}

json::value EncodePolledCommand(const std::optional<storage::Command>& c) {
  if (!c) return json::object{{"command_name", "NONE"}};
  json::value param = json::object{};
  if (auto parsed = ParseJsonBody(c->param_json)) param = std::move(*parsed);
  return json::object{{"command_name", storage::ToText(c->name)},
                      {"command_param", std::move(param)}};
}

std::string EncodeCheckParam(const CheckCommandParam& p) {
  json::object o{{"task_id", p.task_id},
                 {"run_id", p.run_id},
                 {"dirs", Strings(p.dirs)},
                 {"mode", p.mode},
                 {"hash_algorithm", p.hash_algorithm},
                 {"exclude", Strings(p.exclude)},
                 {"io_limit", p.io_limit},
                 {"verify_uri", p.verify_uri}};
  if (!p.scope.empty()) o["scope"] = p.scope;
  if (!p.base_run_id.empty()) o["base_run_id"] = p.base_run_id;
  if (p.cache) o["cache"] = *p.cache;
  if (p.push_agent) o["push_agent"] = *p.push_agent;
  return ToJson(o);
}

std::string EncodeStopParam(const std::string& task_id,
                            const std::string& run_id) {
  return ToJson(json::object{{"task_id", task_id}, {"run_id", run_id}});
}

}  // namespace sms::server
