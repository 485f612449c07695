#include "server/codec/task_codec.h"

#include "auth/crypto.h"
#include "server/task_settings.h"

namespace sms::server {

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
  // Issue 13.1: CONSISTENCY_SCHEDULE's next tick (absent: no schedule) and
  // the scheduled checks skipped because one was still going.
  if (t.next_check_at) o["next_check_time"] = *t.next_check_at;
  o["skipped_check_count"] = t.skipped_checks;
  return o;
}

json::value EncodeTask(const TaskView& v) {
  json::value out = EncodeTask(v.task, v.source_name);
  // Issue 13.3: {"status", "since" (epoch ms, null when unknown),
  // "reasons": [...]}.
  json::array reasons;
  for (const std::string& r : v.readiness.reasons)
    reasons.push_back(json::value(r));
  json::object readiness{
      {"status", schedule::ReadinessName(v.readiness.status)},
      {"since", nullptr},
      {"reasons", std::move(reasons)}};
  if (v.readiness.since_ms > 0) readiness["since"] = v.readiness.since_ms;
  out.as_object()["cutover_readiness"] = std::move(readiness);
  return out;
}

ApiResult<storage::TaskFilter> DecodeTaskListQuery(const QueryParams& q) {
  storage::TaskFilter f;
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> state,
                       QueryString(q, "state", 16));
  if (state) {
    SMS_RETURN_IF_ERROR(
        CheckEnum(*state, "state", {"READY", "RUNNING", "ABORTING", "ABORT"}));
    f.state = storage::ParseTaskState(*state);
  }
  SMS_ASSIGN_OR_RETURN(f.name, QueryString(q, "name", 255));
  SMS_ASSIGN_OR_RETURN(f.id, QueryString(q, "id", 36));
  SMS_ASSIGN_OR_RETURN(f.source_id, QueryString(q, "source_server_id", 36));
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> sort,
                       QueryString(q, "sort", 32));
  if (sort) {
    SMS_RETURN_IF_ERROR(
        CheckEnum(*sort, "sort", {"create_date", "cutover_readiness"}));
    if (*sort == "cutover_readiness") f.order = storage::TaskOrder::kReadiness;
  }
  SMS_ASSIGN_OR_RETURN(Paging paging, DecodePaging(q));
  f.limit = paging.limit;
  f.offset = paging.offset;
  return f;
}

json::value EncodeTaskList(const storage::Page<TaskView>& page) {
  json::array tasks;
  for (const TaskView& v : page.items) tasks.push_back(EncodeTask(v));
  return json::object{{"count", page.count}, {"tasks", std::move(tasks)}};
}

ApiResult<std::vector<storage::ConfigEntry>> DecodeConfigurations(
    const json::object& body) {
  SMS_ASSIGN_OR_RETURN(
      const json::array* list,
      ReqArray(body, "configurations", "configurations", 1, 20));
  std::vector<storage::ConfigEntry> entries;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string path = "configurations[" + std::to_string(i) + "]";
    SMS_ASSIGN_OR_RETURN(const json::object* item, AsObject((*list)[i], path));
    storage::ConfigEntry e;
    SMS_ASSIGN_OR_RETURN(
        e.key, ReqString(*item, "config_key", path + ".config_key", 1, 64));
    SMS_ASSIGN_OR_RETURN(e.value, ReqString(*item, "config_value",
                                            path + ".config_value", 0, 65536));
    SMS_RETURN_IF_ERROR(CheckSetting(e.key, e.value, path + ".config_key",
                                     path + ".config_value"));
    entries.push_back(std::move(e));
  }
  return entries;
}

ApiResult<std::optional<std::string>> DecodeConfigKeyQuery(
    const QueryParams& q) {
  return QueryString(q, "config_key", 64);
}

json::value EncodeConfigurations(
    const std::vector<storage::ConfigEntry>& list) {
  json::array out;
  for (const auto& e : list) {
    out.push_back(
        json::object{{"config_key", e.key}, {"config_value", e.value}});
  }
  return json::object{{"configurations", std::move(out)}};
}

ApiResult<ActionRequest> DecodeAction(const json::object& body) {
  ActionRequest r;
  SMS_ASSIGN_OR_RETURN(r.operation,
                       ReqString(body, "operation", "operation", 1, 64));
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> scope,
                       OptString(body, "scope", "scope", 0, 32));
  r.scope = scope.value_or("");
  if (!r.scope.empty() && r.scope != "inconsistent") {
    return Malformed("scope",
                     "must be \"inconsistent\" (or absent for a full check)");
  }
  if (!r.scope.empty() && r.operation != "consistency_check")
    return Malformed("scope", "only for the operation consistency_check");
  return r;
}

json::value EncodeActionOutcome(const ActionOutcome& o) {
  if (o.run_id.empty()) return json::object{};
  return json::object{{"run_id", o.run_id}};
}

json::value EncodeCreated(const std::string& id) {
  return json::object{{"id", id}};
}

}  // namespace sms::server
