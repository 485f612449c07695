#include "server/codec/task_codec.h"

#include "auth/crypto.h"

namespace sms::server {
namespace {

constexpr int64_t kConnectedWindowMs = 60 * 1000;

}  // namespace

ApiResult<CreateTaskRequest> DecodeCreateTask(const json::object& body) {
  CreateTaskRequest r;
  SMS_ASSIGN_OR_RETURN(r.name, ReqString(body, "name", "name", 1, 255));
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> type,
                       OptString(body, "type", "type", 1, 32));
  if (type) r.type = std::move(*type);
  SMS_RETURN_IF_ERROR(CheckEnum(r.type, "type", {"MIGRATE_FILE"}));
  SMS_ASSIGN_OR_RETURN(r.os_type, ReqString(body, "os_type", "os_type", 1, 16));
  SMS_RETURN_IF_ERROR(CheckEnum(r.os_type, "os_type", {"LINUX", "WINDOWS"}));
  SMS_ASSIGN_OR_RETURN(const json::object* source,
                       ReqObject(body, "source_server", "source_server"));
  SMS_ASSIGN_OR_RETURN(r.source_id,
                       ReqString(*source, "id", "source_server.id", 1, 36));
  if (!auth::IsUuid(r.source_id))
    return Malformed("source_server.id", "expected a lower-case UUID");
  SMS_ASSIGN_OR_RETURN(const json::object* target,
                       ReqObject(body, "target_server", "target_server"));
  SMS_ASSIGN_OR_RETURN(
      r.target_name, ReqString(*target, "name", "target_server.name", 1, 255));
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> ip,
                       OptString(*target, "ip", "target_server.ip", 0, 64));
  r.target_ip = ip.value_or("");
  SMS_ASSIGN_OR_RETURN(
      std::optional<std::string> uri,
      OptString(*target, "verify_uri", "target_server.verify_uri", 1, 4096));
  if (uri && uri->rfind("file:///", 0) != 0 && uri->rfind("ssh://", 0) != 0) {
    return Malformed("target_server.verify_uri",
                     "must start with file:/// or ssh://");
  }
  r.target_verify_uri = uri.value_or("");
  SMS_ASSIGN_OR_RETURN(
      std::optional<bool> check,
      OptBool(body, "is_need_consistency_check", "is_need_consistency_check"));
  r.is_need_consistency_check = check.value_or(true);
  return r;
}

json::value EncodeTask(const storage::Task& t, const std::string& source_name) {
  json::object o;
  o["id"] = t.id;
  o["name"] = t.name;
  o["type"] = t.type;
  o["os_type"] = t.os_type;
  o["state"] = storage::ToText(t.state);
  o["create_date"] = t.created_at;
  o["source_server"] = json::object{{"id", t.source_id}, {"name", source_name}};
  o["target_server"] = json::object{{"name", t.target_name},
                                    {"ip", t.target_ip},
                                    {"verify_uri", t.target_verify_uri}};
  o["is_need_consistency_check"] = t.is_need_consistency_check;
  if (!t.current_run_id.empty()) o["current_run_id"] = t.current_run_id;
  return o;
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

json::value EncodeCreated(const std::string& id) {
  return json::object{{"id", id}};
}

}  // namespace sms::server
