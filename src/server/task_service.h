// TaskService: tasks, their settings and their actions (spec/API.md §4):
// typed requests in (server/codec/task_codec.h decodes them), storage
// values out. Pure logic over a Store; no HTTP, no JSON. Every call is
// scoped to the caller's domain; another domain's records are answered
// exactly like missing ones (404 SMS.2252). Sources are SourceService's,
// the agent's poll and command results CommandService's.
// Thread-safety: safe for concurrent use (state lives in the Store).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "server/api_error.h"
#include "server/codec/task_codec.h"
#include "server/identity.h"
#include "server/task_settings.h"
#include "storage/store.h"

namespace sms::server {

struct TaskServiceOptions {
  // The shortest @every a CONSISTENCY_SCHEDULE may have (1 minute; tests
  // lower it through SMS_TEST_SCHEDULE_MIN_INTERVAL, server/scheduler.h).
  int64_t min_schedule_interval_ms = 60000;
};

class TaskService final {
 public:
  TaskService(storage::Store& store, core::Clock& clock,
              TaskServiceOptions options = {});
  TaskService(const TaskService&) = delete;
  TaskService& operator=(const TaskService&) = delete;

  // POST /v3/tasks: creates the task READY in the caller's domain and
  // returns it. 403 without kTaskWrite, 404 when the source does not exist
  // in the domain.
  [[nodiscard]] ApiResult<storage::Task> CreateTask(
      const Identity& who, const CreateTaskRequest& req);
  // GET /v3/tasks: one page of the domain's tasks, with source names.
  [[nodiscard]] ApiResult<storage::Page<TaskView>> ListTasks(
      const Identity& who, const storage::TaskFilter& filter);
  // GET /v3/tasks/{id}
  [[nodiscard]] ApiResult<TaskView> ShowTask(const Identity& who,
                                             const std::string& id);
  // DELETE /v3/tasks/{id}: the task, its runs, details and commands.
  [[nodiscard]] ApiStatus DeleteTask(const Identity& who,
                                     const std::string& id);
  // POST /v3/tasks/{id}/configuration-setting: stores settings already
  // checked by CheckSetting (the codec applies it). A CONSISTENCY_SCHEDULE
  // shorter than the minimum interval is a 400 naming
  // configurations[i].config_value; a schedule set (or emptied) moves the
  // task's next_check_time to its first tick after now (or removes it).
  [[nodiscard]] ApiStatus SetConfiguration(
      const Identity& who, const std::string& id,
      const std::vector<storage::ConfigEntry>& entries);
  // GET .../configuration-setting: all settings, or only `key`'s.
  [[nodiscard]] ApiResult<std::vector<storage::ConfigEntry>> GetConfiguration(
      const Identity& who, const std::string& id,
      const std::optional<std::string>& key);
  // POST /v3/tasks/{id}/action: consistency_check queues a check (and
  // returns its run id), stop and skip end a queued or running one. 409
  // SMS.2002 when the task's state does not allow it (kTaskTransitions);
  // a migration operation is 409 too, any other a 400.
  [[nodiscard]] ApiResult<ActionOutcome> RunAction(const Identity& who,
                                                   const std::string& id,
                                                   const ActionRequest& req);

  // Loads a task of the caller's domain (404 SMS.2252 otherwise).
  [[nodiscard]] ApiResult<storage::Task> LoadTask(const Identity& who,
                                                  const std::string& id);
  // The task must be of the caller's domain (404 SMS.2252 otherwise) and,
  // for an agent identity, its source the agent's own (403 SMS.9004 naming
  // `action` otherwise). Reads the task's source alone (held by the read
  // cache through the writes of the task's state), not the task.
  [[nodiscard]] ApiStatus CheckTaskAccess(const Identity& who,
                                          const std::string& task_id,
                                          Action action);

 private:
  ApiResult<ActionOutcome> QueueCheck(const Identity& who,
                                      const storage::Task& task,
                                      const std::string& scope, int64_t now);
  // The newest run of the task whose check_result is "success" (the base of
  // a scope "inconsistent" check), or "" when the last 100 have none.
  ApiResult<std::string> LastSuccessfulRun(const Identity& who,
                                           const storage::Task& task);
  ApiResult<ActionOutcome> StopOrSkip(const Identity& who,
                                      const storage::Task& task, bool stop,
                                      int64_t now);

  storage::Store& store_;
  core::Clock& clock_;
  const TaskServiceOptions options_;
};

}  // namespace sms::server
