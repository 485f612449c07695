// Task codec: the JSON of the task routes (spec/API.md §4) decoded into
// typed requests and encoded from typed values, apart from the services,
// which never see JSON. Decoding checks each field and names it in errors
// ("target_server.ip: longer than 64 bytes"); what needs the store (does
// the source exist?) is the service's.
#pragma once

#include <cstdint>
#include <string>

#include "server/api_error.h"
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

// A task as the API shows it; `source_name` is its source's name ("" if
// the source is gone).
json::value EncodeTask(const storage::Task& t, const std::string& source_name);

// A source as the API shows it; `now` (epoch ms) decides "connected".
json::value EncodeSource(const storage::Source& s, int64_t now);

// {"id": id}: the reply of a create.
json::value EncodeCreated(const std::string& id);

}  // namespace sms::server
