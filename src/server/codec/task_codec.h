// Task codec: the JSON of the task routes (spec/API.md §4) decoded into
// typed requests and encoded from typed values, apart from the services,
// which never see JSON. Decoding checks each field and names it in errors
// ("target_server.ip: longer than 64 bytes"); what needs the store (does
// the source exist?) is the service's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "schedule/readiness.h"
#include "server/api_error.h"
#include "server/codec/query.h"
#include "server/json_fields.h"
#include "storage/store.h"

namespace sms::server {

// POST /v3/tasks
struct CreateTaskRequest {
  std::string name;
  std::string type = "MIGRATE_FILE";
  std::string os_type;  // LINUX | WINDOWS
  std::string source_id;
  std::string target_name;
  std::string target_ip;
  std::string target_verify_uri;  // file:///... or ssh://..., or empty
  bool is_need_consistency_check = true;
};

[[nodiscard]] ApiResult<CreateTaskRequest> DecodeCreateTask(
    const json::object& body);

// A task with the name of its source ("" if the source is gone), as the
// API shows it.
struct TaskView {
  storage::Task task;
  std::string source_name;
  // Issue 13.3: the stored verdict as of the time of the request.
  schedule::Readiness readiness;
};

json::value EncodeTask(const storage::Task& t, const std::string& source_name);
json::value EncodeTask(const TaskView& v);

// GET /v3/tasks: the filters (state, name, id, source_server_id), the order
// (sort=create_date, the default: newest first; sort=cutover_readiness:
// ready first, then stale, then not ready) and paging.
[[nodiscard]] ApiResult<storage::TaskFilter> DecodeTaskListQuery(
    const QueryParams& q);
// -> {"count", "tasks"}
json::value EncodeTaskList(const storage::Page<TaskView>& page);

// POST /v3/tasks/{id}/configuration-setting: 1..20 settings, each checked
// by the rules of task_settings.h ("configurations[2].config_value: ...").
[[nodiscard]] ApiResult<std::vector<storage::ConfigEntry>> DecodeConfigurations(
    const json::object& body);
// GET .../configuration-setting?config_key=K: the one key asked for.
[[nodiscard]] ApiResult<std::optional<std::string>> DecodeConfigKeyQuery(
    const QueryParams& q);
// -> {"configurations": [{"config_key", "config_value"}, ...]}
json::value EncodeConfigurations(const std::vector<storage::ConfigEntry>& list);

// POST /v3/tasks/{id}/action
struct ActionRequest {
  std::string operation;  // consistency_check | stop | skip (checked later)
  // consistency_check only: "" checks the whole directories, "inconsistent"
  // only the files the task's last successful run found not equal.
  std::string scope;
};
[[nodiscard]] ApiResult<ActionRequest> DecodeAction(const json::object& body);

struct ActionOutcome {
  std::string run_id;  // the queued check's run; empty for stop and skip
};
// -> {"run_id"} for a queued check, {} otherwise.
json::value EncodeActionOutcome(const ActionOutcome& o);

// {"id": id}: the reply of a create.
json::value EncodeCreated(const std::string& id);

}  // namespace sms::server
