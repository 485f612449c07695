// TaskService: tasks, their configuration, actions, sources and the agent
// command loop (spec/API.md §4). Pure logic over a Store; no HTTP types.
// Every call is scoped to the caller's domain; another domain's records are
// answered exactly like missing ones (404 SMS.2252).
// Thread-safety: safe for concurrent use (state lives in the Store).
#pragma once

#include <map>
#include <string>

#include "core/clock.h"
#include "server/api_error.h"
#include "server/codec/task_codec.h"
#include "server/identity.h"
#include "server/json_fields.h"
#include "storage/store.h"

namespace sms::server {

// Query parameters, already split ("limit" -> "10").
using QueryParams = std::map<std::string, std::string>;

class TaskService final {
 public:
  TaskService(storage::Store& store, core::Clock& clock);
  TaskService(const TaskService&) = delete;
  TaskService& operator=(const TaskService&) = delete;

  // POST /v3/tasks: creates the task READY in the caller's domain and
  // returns it. 403 without kTaskWrite, 404 when the source does not exist
  // in the domain.
  [[nodiscard]] ApiResult<storage::Task> CreateTask(
      const Identity& who, const CreateTaskRequest& req);
  // GET /v3/tasks -> {"count", "tasks"}
  [[nodiscard]] ApiResult<json::value> ListTasks(const Identity& who,
                                                 const QueryParams& q);
  [[nodiscard]] ApiResult<json::value> ShowTask(const Identity& who,
                                                const std::string& id);
  [[nodiscard]] ApiResult<json::value> DeleteTask(const Identity& who,
                                                  const std::string& id);
  [[nodiscard]] ApiResult<json::value> SetConfiguration(
      const Identity& who, const std::string& id, const json::object& body);
  [[nodiscard]] ApiResult<json::value> GetConfiguration(const Identity& who,
                                                        const std::string& id,
                                                        const QueryParams& q);
  // POST /v3/tasks/{id}/action
  [[nodiscard]] ApiResult<json::value> RunAction(const Identity& who,
                                                 const std::string& id,
                                                 const json::object& body);

  // POST /v3/sources -> {"id"}
  [[nodiscard]] ApiResult<json::value> RegisterSource(const Identity& who,
                                                      const json::object& body);
  [[nodiscard]] ApiResult<json::value> ListSources(const Identity& who,
                                                   const QueryParams& q);
  [[nodiscard]] ApiResult<json::value> ShowSource(const Identity& who,
                                                  const std::string& id);
  // GET /v3/sources/{id}/command: the agent's poll and heartbeat.
  [[nodiscard]] ApiResult<json::value> PollCommand(const Identity& who,
                                                   const std::string& id);
  // POST /v3/sources/{id}/command_result
  [[nodiscard]] ApiResult<json::value> CommandResult(const Identity& who,
                                                     const std::string& id,
                                                     const json::object& body);

  // Loads a task of the caller's domain (404 SMS.2252 otherwise).
  [[nodiscard]] ApiResult<storage::Task> LoadTask(const Identity& who,
                                                  const std::string& id);
  // For an agent identity: the task's source must be the agent's own
  // (403 SMS.9004 otherwise). Other roles pass.
  [[nodiscard]] ApiStatus CheckAgentOwnsTask(const Identity& who,
                                             const storage::Task& task);

 private:
  ApiResult<storage::Source> LoadOwnSource(const Identity& who,
                                           const std::string& id);
  // `source_names` caches source id -> name across one listing.
  json::value TaskJson(const storage::Task& t,
                       std::map<std::string, std::string>* source_names);
  json::value SourceJson(const storage::Source& s, int64_t now);

  storage::Store& store_;
  core::Clock& clock_;
};

// Splits CONSISTENCY_DIR, drops directories whose ancestor is listed too,
// and checks each is absolute (field named `path` in errors).
[[nodiscard]] ApiResult<std::vector<std::string>> SplitConsistencyDirs(
    const std::string& value, std::string_view path);

}  // namespace sms::server
